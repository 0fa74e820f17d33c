import { z } from 'zod';
import { Id, Timestamp } from './common.ts';

/** Most messages one conversation may have pinned at once. */
export const PINS_PER_CONVERSATION = 50;

export const PinBody = z.object({ messageId: Id });

export const Pin = z.object({
  messageId: Id,
  seq: z.number().int().describe('where the pinned message sits in the conversation'),
  pinnedBy: Id,
  pinnedAt: Timestamp,
});
export type Pin = z.infer<typeof Pin>;

export const PinList = z.object({ pins: z.array(Pin).describe('most recently pinned first') });

/**
 * `event` of the system envelope (`SystemContent`) announcing a pin or an unpin;
 * its `data` is `{messageId}`.
 */
export const PIN_SYSTEM_EVENTS = { pinned: 'message_pinned', unpinned: 'message_unpinned' } as const;
