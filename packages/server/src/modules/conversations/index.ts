/**
 * Conversations: direct (one per pair, through the unique `direct_key`) and groups, their
 * members, roles, message requests, invite links and per-user settings, and sync.
 *
 * What other modules use:
 * - `createConversations(ctx, {graph})` → `view(userId, id)` (the per-user Conversation, or
 *   null for a non-member), `membership(userId, id)`, `memberIds(id)` (who hears of it: a
 *   declined request's recipient does not), `peerIds(userId)`, `currentCursor()` (for the
 *   socket's `ready` frame), and `write(fn)`: every write that sync must see runs through it,
 *   so its change stamp and the sync cursors stay consistent.
 * - `appendEnvelope` / `appendSystem` (inside `write`): the only way to add to a
 *   conversation's log; they assign the next gap-free seq.
 */
export { createConversations, type Conversations, type ConversationsDeps, type NotAdded } from './actions.ts';
export { conversationsRoutes } from './routes.ts';
export type { Membership } from './queries.ts';
export { appendEnvelope, appendSystem, toEnvelope, type MessageRow, type NewEnvelope } from './envelope-log.ts';
export { appendEnvelopes, type BatchEnvelope } from './envelope-batch.ts';
export { batchedSendFacts, findSendFacts, SendFactsCache, type SendFacts } from './send-facts.ts';
