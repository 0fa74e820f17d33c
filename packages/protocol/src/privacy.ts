import { z } from 'zod';
import { Id, Timestamp } from './common.ts';
import { Envelope } from './messages.ts';

export const Audience = z.enum(['everyone', 'connections', 'nobody']);
export type Audience = z.infer<typeof Audience>;

export const PrivacySettings = z.object({
  whoCanMessage: Audience,
  whoCanAddToGroups: Audience,
  readReceipts: z.boolean(),
  presence: Audience,
});
export type PrivacySettings = z.infer<typeof PrivacySettings>;

export const DEFAULT_PRIVACY: PrivacySettings = {
  whoCanMessage: 'everyone',
  whoCanAddToGroups: 'connections',
  readReceipts: true,
  presence: 'connections',
};

export const PrivacyPatch = PrivacySettings.partial().strict();

/**
 * GET /v1/me/export: everything the server holds about the caller (GDPR access and
 * portability). Messages are the envelopes the caller sent; what others sent is theirs.
 */
export const AccountExport = z.object({
  exportedAt: Timestamp,
  profile: z.object({ id: Id, username: z.string(), displayName: z.string(), bio: z.string(), createdAt: Timestamp, lastSeenAt: Timestamp.nullable() }),
  settings: PrivacySettings.describe('privacy settings'),
  sessions: z.array(z.object({ id: Id, deviceName: z.string(), createdAt: Timestamp, lastActiveAt: Timestamp, current: z.boolean() })),
  connections: z.array(z.object({ userId: Id, state: z.enum(['connected', 'incoming', 'outgoing']), since: Timestamp })),
  blocks: z.array(z.object({ userId: Id, createdAt: Timestamp })),
  conversations: z.array(
    z.object({
      id: Id,
      type: z.enum(['direct', 'group']),
      title: z.string().nullable(),
      createdAt: Timestamp,
      role: z.enum(['owner', 'admin', 'member']),
      state: z.enum(['active', 'request', 'declined']),
      joinedAt: Timestamp,
      readSeq: z.number().int(),
      deliveredSeq: z.number().int(),
      muted: z.boolean(),
      mutedUntil: Timestamp.nullable(),
      archived: z.boolean(),
      pinnedAt: Timestamp.nullable(),
      members: z.array(z.object({ userId: Id, role: z.enum(['owner', 'admin', 'member']), state: z.enum(['active', 'request', 'declined']) })),
    }),
  ),
  leftConversations: z.array(z.object({ id: Id, removedAt: Timestamp })),
  envelopes: z.array(Envelope).describe('every envelope I sent, in every conversation I am or was in'),
  reports: z.array(
    z.object({
      id: Id,
      conversationId: Id,
      messageIds: z.array(Id),
      reason: z.string(),
      evidence: z.array(z.object({ messageId: Id, senderId: Id, content: z.string() })),
      status: z.enum(['open', 'resolved']),
      resolution: z.string().nullable(),
      createdAt: Timestamp,
      resolvedAt: Timestamp.nullable(),
    }),
  ),
  attachments: z.array(z.object({ id: Id, size: z.number().int(), contentType: z.string(), createdAt: Timestamp })),
});
export type AccountExport = z.infer<typeof AccountExport>;
