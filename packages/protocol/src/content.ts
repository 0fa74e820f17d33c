import { z } from 'zod';
import { Id } from './common.ts';

/**
 * What the SDK puts inside a `plain` payload (and, once end-to-end encrypted, inside the
 * MLS ciphertext). The server never sees these types.
 */
export const Mention = z.object({ userId: Id, offset: z.number().int().min(0), length: z.number().int().min(1) });

export const TextContent = z.object({
  type: z.literal('text'),
  text: z.string().max(16_000),
  mentions: z.array(Mention).optional(),
  replyPreview: z.object({ messageId: Id, senderId: Id, text: z.string().max(200) }).optional(),
  forwarded: z.boolean().optional(),
});
export const EditContent = z.object({ type: z.literal('edit'), text: z.string().max(16_000), mentions: z.array(Mention).optional() });
export const ReactionContent = z.object({ type: z.literal('reaction'), emoji: z.string().min(1).max(32), on: z.boolean() });
export const SystemContent = z.object({ type: z.literal('system'), event: z.string(), actorId: Id.nullable(), data: z.record(z.string(), z.unknown()) });

export const PlainContent = z.discriminatedUnion('type', [TextContent, EditContent, ReactionContent, SystemContent]);
export type PlainContent = z.infer<typeof PlainContent>;
