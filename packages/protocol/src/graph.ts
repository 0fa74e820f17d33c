import { z } from 'zod';
import { Id, Limit, OptionalCursor, Timestamp } from './common.ts';
import { LIMITS } from './limits.ts';
import { User } from './accounts.ts';

export const ConnectionState = z.enum(['connected', 'incoming', 'outgoing']);
export type ConnectionState = z.infer<typeof ConnectionState>;

export const Connection = z.object({
  userId: Id,
  user: User,
  state: ConnectionState,
  since: Timestamp,
});
export type Connection = z.infer<typeof Connection>;

export const ConnectionListQuery = z.object({ state: ConnectionState.default('connected'), limit: Limit, cursor: OptionalCursor });
export const ConnectionList = z.object({ connections: z.array(Connection), nextCursor: z.string().nullable() });
/** Where the relation stands after a request or an accept, as the caller sees it. */
export const ConnectionResult = z.object({ state: z.enum(['connected', 'outgoing']) });

export const Block = z.object({ userId: Id, user: User, createdAt: Timestamp });
export type Block = z.infer<typeof Block>;
export const BlockListQuery = z.object({ limit: Limit, cursor: OptionalCursor });
export const BlockList = z.object({ blocks: z.array(Block), nextCursor: z.string().nullable() });

export const ReportBody = z.object({
  conversationId: Id,
  messageIds: z.array(Id).min(1).max(50),
  reason: z.string().trim().min(1).max(LIMITS.reportReasonMax),
  evidence: z
    .union([
      z.string().max(LIMITS.reportEvidenceMax),
      z
        .array(
          z.union([
            z.string().max(LIMITS.reportEvidenceMax),
            z.object({
              messageId: Id.optional().describe('default: the messageIds entry at the same position'),
              senderId: Id.optional().describe('ignored: the server records who sent each message'),
              content: z.string().max(LIMITS.reportEvidenceMax),
            }),
          ]),
        )
        .max(50),
    ])
    .default([])
    .describe(
      'the reported messages as the reporter’s client shows them (decrypted once E2EE lands): a list of {messageId, content}, or plain strings (or one string) paired with messageIds by position',
    )
    .transform((evidence) => (typeof evidence === 'string' ? [evidence] : evidence).map((e) => (typeof e === 'string' ? { content: e } : e))),
  block: z.boolean().default(false).describe('also block the reported sender(s)'),
});
export const Report = z.object({
  id: Id,
  reporterId: Id,
  reportedUserIds: z.array(Id),
  conversationId: Id,
  messageIds: z.array(Id),
  reason: z.string(),
  evidence: z.array(z.object({ messageId: Id, senderId: Id, content: z.string() })),
  status: z.enum(['open', 'resolved']),
  resolution: z.string().nullable(),
  createdAt: Timestamp,
  resolvedAt: Timestamp.nullable(),
});
export type Report = z.infer<typeof Report>;

export const ReportCreated = z.object({ id: Id });
export const ReportStatus = z.enum(['open', 'resolved']);
export const ReportListQuery = z.object({ status: ReportStatus.default('open'), limit: Limit, cursor: OptionalCursor });
export const ReportList = z.object({ reports: z.array(Report), nextCursor: z.string().nullable() });
export const ResolveReportBody = z.object({ resolution: z.string().trim().min(1).max(LIMITS.reportReasonMax).describe('what the operator did, for the record') });
