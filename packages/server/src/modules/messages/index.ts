/**
 * Messages: the send path (validate → authorize → group commit assigns the seq → ack →
 * event), history, unsend and markers. Transports call `send(caller, conversationId, body,
 * origin?)` → `{ack, created}` (idempotent on the session and clientId) and
 * `mark(caller, conversationId, 'read' | 'delivered', seq)` → the marker after the call.
 */
export { createMessages, type Messages, type MessagesDeps } from './actions.ts';
export { messagesRoutes } from './routes.ts';
