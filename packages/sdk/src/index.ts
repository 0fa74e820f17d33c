/**
 * @parley/sdk: the TypeScript client of Parley. Runs in browsers and in Node 20 (pass the
 * `ws` package's WebSocket). Imports only @parley/protocol.
 *
 * @example
 * import { ParleyClient } from '@parley/sdk';
 * const client = new ParleyClient({ baseUrl: location.origin });
 * await client.accounts.signIn({ username, password });
 * await client.connect();
 */
export { ParleyApi } from './api.ts';
export { ParleyClient, type ParleyClientOptions, type ClientEvents, type MarkerEvent, type TypingEvent, type PresenceEvent } from './client.ts';
export { ApiError, type ApiErrorCode } from './errors.ts';
export { plainCodec, type ContentCodec } from './codec.ts';
export { MemoryOutboxPersistence, type OutboxEntry, type OutboxPersistence, type OutboxState } from './outbox.ts';
export { Store, isMutedNow, type MessageView, type MessageStatus, type ReactionView, type Snapshot, type TextVersion } from './store.ts';
export type { SendFileOptions, SendVoiceOptions, ThumbnailInput } from './client.ts';
export type { ConnectionState, WebSocketLike, WebSocketConstructor } from './socket.ts';
export type { FetchLike, BinaryBody } from './http.ts';
export { backoffDelay, type BackoffOptions } from './backoff.ts';
export { Emitter } from './emitter.ts';
export type * from './types.ts';
