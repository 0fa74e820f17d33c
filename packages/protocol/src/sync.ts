import { z } from 'zod';
import { Id } from './common.ts';
import { Conversation } from './conversations.ts';

export const SyncResult = z.object({
  cursor: z.string(),
  conversations: z.array(Conversation),
  removed: z.array(Id),
});
export type SyncResult = z.infer<typeof SyncResult>;
