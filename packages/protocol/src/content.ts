import { z } from 'zod';
import { Id } from './common.ts';

/**
 * What the SDK puts inside a `plain` payload (and, once end-to-end encrypted, inside the
 * MLS ciphertext). The server never sees these types.
 */
export const Mention = z.object({ userId: Id, offset: z.number().int().min(0), length: z.number().int().min(1) });

/** What kind of file an attachment is, for how clients show it. */
export const AttachmentKind = z.enum(['file', 'image', 'video', 'voice']);
export type AttachmentKind = z.infer<typeof AttachmentKind>;

/**
 * What a message says about one of its attachments (the server only sees the id, listed in
 * the envelope's `attachmentIds`). A thumbnail is an attachment of its own, listed there too.
 * A voice note is `kind: 'voice'` with an `audio/*` type and its duration.
 */
export const AttachmentInfo = z.object({
  id: Id,
  kind: AttachmentKind,
  contentType: z.string().max(255),
  size: z.number().int().min(0),
  name: z.string().max(255).optional(),
  width: z.number().int().min(1).optional(),
  height: z.number().int().min(1).optional(),
  durationMs: z.number().int().min(0).optional().describe('voice notes and videos'),
  thumbnail: z
    .object({ id: Id, contentType: z.string().max(255), width: z.number().int().min(1).optional(), height: z.number().int().min(1).optional() })
    .optional(),
});
export type AttachmentInfo = z.infer<typeof AttachmentInfo>;

export const TextContent = z.object({
  type: z.literal('text'),
  /** The caption of a file message may be empty. */
  text: z.string().max(16_000),
  mentions: z.array(Mention).optional(),
  replyPreview: z.object({ messageId: Id, senderId: Id, text: z.string().max(200) }).optional(),
  /** Forwarded from another conversation (shown as such; the original sender is not named). */
  forwarded: z.boolean().optional(),
  attachments: z.array(AttachmentInfo).max(32).optional(),
});
export type TextContent = z.infer<typeof TextContent>;
export const EditContent = z.object({ type: z.literal('edit'), text: z.string().max(16_000), mentions: z.array(Mention).optional() });
export const ReactionContent = z.object({ type: z.literal('reaction'), emoji: z.string().min(1).max(32), on: z.boolean() });
export const SystemContent = z.object({ type: z.literal('system'), event: z.string(), actorId: Id.nullable(), data: z.record(z.string(), z.unknown()) });

export const PlainContent = z.discriminatedUnion('type', [TextContent, EditContent, ReactionContent, SystemContent]);
export type PlainContent = z.infer<typeof PlainContent>;
