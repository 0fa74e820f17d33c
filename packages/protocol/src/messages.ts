import { z } from 'zod';
import { ErrorBodySchema, Id, OptionalCursor, Timestamp } from './common.ts';
import { LIMITS } from './limits.ts';

export const EnvelopeKind = z.enum(['message', 'edit', 'reaction', 'delete', 'system']);
export type EnvelopeKind = z.infer<typeof EnvelopeKind>;

/** Kinds a client may send; `delete` and `system` envelopes are written by the server. */
export const SendableKind = z.enum(['message', 'edit', 'reaction']);

export const ContentEncoding = z.enum(['plain', 'mls']);
export type ContentEncoding = z.infer<typeof ContentEncoding>;

/** The opaque payload: the server never parses `data`. */
export const Content = z.object({
  encoding: ContentEncoding,
  data: z.string().describe('plain: the SDK’s JSON content as a string; mls: base64 ciphertext'),
});
export type Content = z.infer<typeof Content>;

export const ClientId = z.string().min(1).max(LIMITS.clientIdMax);

export const Refs = z
  .object({
    target: Id.optional().describe('the message an edit, reaction or delete applies to'),
    replyTo: Id.optional().describe('the message this one replies to'),
  })
  .strict();
export type Refs = z.infer<typeof Refs>;

export const SendBody = z.object({
  clientId: ClientId,
  kind: SendableKind,
  content: Content,
  refs: Refs.optional(),
  attachmentIds: z.array(Id).max(LIMITS.attachmentsPerMessage).optional(),
});
export type SendBody = z.infer<typeof SendBody>;

export const Ack = z.object({ id: Id, seq: z.number().int(), createdAt: Timestamp });
export type Ack = z.infer<typeof Ack>;

export const Envelope = z.object({
  id: Id,
  conversationId: Id,
  seq: z.number().int(),
  senderId: Id,
  senderDeviceId: Id,
  clientId: z.string(),
  kind: EnvelopeKind,
  refs: Refs,
  content: Content.nullable().describe('null once the message was unsent or expired'),
  attachmentIds: z.array(Id),
  createdAt: Timestamp,
  editedAt: Timestamp.optional(),
  deletedAt: Timestamp.optional(),
  expiresAt: Timestamp.optional(),
});
export type Envelope = z.infer<typeof Envelope>;

export const HistoryQuery = z
  .object({
    after: z.coerce.number().int().min(0).optional(),
    before: z.coerce.number().int().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(LIMITS.pageMax).default(LIMITS.pageDefault),
  })
  .refine((q) => q.after === undefined || q.before === undefined, { message: 'give after or before, not both' });
export const History = z.object({ messages: z.array(Envelope) });

/** One conversation of a batch: a page after `after`, before `before`, or the latest (neither). */
export const HistoryBatchItem = z
  .object({
    conversationId: Id,
    after: z.number().int().min(0).optional().describe('the page starts after this seq (a device catching up: the last seq it has)'),
    before: z.number().int().min(1).optional().describe('the page ends before this seq'),
  })
  .strict()
  .refine((q) => q.after === undefined || q.before === undefined, { message: 'give after or before, not both' });
export type HistoryBatchItem = z.infer<typeof HistoryBatchItem>;

export const HistoryBatchBody = z.object({
  conversations: z.array(HistoryBatchItem).min(1).max(LIMITS.historyBatchMax),
  limit: z.number().int().min(1).max(LIMITS.pageMax).default(LIMITS.pageDefault).describe(`envelopes per conversation (default ${LIMITS.pageDefault}, max ${LIMITS.pageMax})`),
});
export type HistoryBatchBody = z.input<typeof HistoryBatchBody>;

export const HistoryBatchPage = z.object({
  conversationId: Id,
  messages: z.array(Envelope).optional().describe('the page, as GET …/messages would answer it'),
  error: ErrorBodySchema.shape.error.optional().describe('instead of messages: not_found for a conversation the caller is not (or no longer) a member of'),
});
export type HistoryBatchPage = z.infer<typeof HistoryBatchPage>;

export const HistoryBatch = z.object({
  pages: z
    .array(HistoryBatchPage)
    .describe('in the order asked; a response that reached the server\'s size budget stops early, and the conversations left out are asked again'),
});
export type HistoryBatch = z.infer<typeof HistoryBatch>;

export const MarkerBody = z.object({ seq: z.number().int().min(0) });
export const MarkerKind = z.enum(['read', 'delivered']);
export type MarkerKind = z.infer<typeof MarkerKind>;

export const SyncQuery = z.object({ cursor: OptionalCursor });

/** Byte length of a payload as the server counts it against `LIMITS.payloadBytes`. */
export function payloadBytes(content: Content): number {
  return content.encoding === 'mls'
    ? Math.floor((content.data.replace(/=+$/, '').length * 3) / 4)
    : new TextEncoder().encode(content.data).length;
}

export const MarkerResult = z.object({ seq: z.number().int().describe('the marker after this call: it never moves back, and is clamped to lastSeq') });
