import { z } from 'zod';
import { Id, Timestamp } from './common.ts';
import { Conversation } from './conversations.ts';
import { Envelope, MarkerKind, SendBody } from './messages.ts';

export const ReqId = z.union([z.string().max(64), z.number()]);

/** Frames a client sends. */
export const ClientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), token: z.string().min(1).max(512) }),
  SendBody.extend({ type: z.literal('send'), conversationId: Id, reqId: ReqId }),
  z.object({ type: z.literal('typing'), conversationId: Id, active: z.boolean() }),
  z.object({ type: z.literal('read'), conversationId: Id, seq: z.number().int().min(0) }),
  z.object({ type: z.literal('delivered'), conversationId: Id, seq: z.number().int().min(0) }),
  z.object({ type: z.literal('ping') }),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

export const ErrorPayload = z.object({ code: z.string(), message: z.string(), data: z.record(z.string(), z.unknown()).optional() });

/** Frames the server sends. */
export const ServerFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), sessionId: Id, userId: Id, cursor: z.string() }),
  z.object({ type: z.literal('ack'), reqId: ReqId, id: Id, seq: z.number().int(), createdAt: Timestamp }),
  z.object({ type: z.literal('error'), reqId: ReqId.optional(), error: ErrorPayload }),
  z.object({ type: z.literal('message'), envelope: Envelope }),
  z.object({ type: z.literal('conversation'), conversation: Conversation }),
  z.object({ type: z.literal('conversation.removed'), conversationId: Id }),
  z.object({ type: z.literal('marker'), conversationId: Id, userId: Id, kind: MarkerKind, seq: z.number().int() }),
  z.object({ type: z.literal('typing'), conversationId: Id, userId: Id, active: z.boolean() }),
  z.object({ type: z.literal('presence'), userId: Id, status: z.enum(['online', 'offline']), lastSeenAt: Timestamp.nullable() }),
  z.object({ type: z.literal('session.revoked') }),
  z.object({ type: z.literal('pong') }),
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type ServerFrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

/** WebSocket close codes of the gateway. */
export const WS_CLOSE = {
  unauthorized: 4401,
  revoked: 4403,
  authTimeout: 4408,
  /** The socket fell behind (send buffer full): reconnect and resync. */
  slowConsumer: 4429,
  serverShutdown: 1001,
} as const;
