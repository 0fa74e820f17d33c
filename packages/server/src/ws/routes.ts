import { LIMITS, WS_CLOSE } from '@parley/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { toErrorBody } from '../http/errors.ts';
import { MAX_WAITING, WS_HARD_MAX_BYTES, WS_PATH } from './gateway.ts';

const DESCRIPTION = `The real-time channel. Upgrade with \`GET ${WS_PATH}\` (a plain GET answers 426 \`upgrade_required\`).
Every frame is one JSON text object with a \`type\`.

**Auth**: the first frame is \`{"type":"auth","token":"…"}\`, answered by \`ready {sessionId, userId, cursor}\`; or send
\`Authorization: Bearer <token>\` on the upgrade request and \`ready\` comes unasked.
A token in the URL is never accepted. Anything else before auth, or a bad token, closes the socket with ${WS_CLOSE.unauthorized};
frames sent right behind the auth frame wait for it (more than ${MAX_WAITING} of them close the socket with 1008);
a socket that has not authenticated within PARLEY_WS_AUTH_TIMEOUT_MS is closed with ${WS_CLOSE.authTimeout}.
\`cursor\` is a sync cursor: \`GET /v1/sync?cursor=\` returns what changed before the socket was live.

**Client frames**: \`send {reqId, conversationId, clientId, kind, content, refs?, attachmentIds?}\` → \`ack {reqId, id, seq, createdAt}\`
or \`error {reqId, error}\` (sends into one conversation are handled in the order they arrive);
\`typing {conversationId, active}\`; \`read {conversationId, seq}\`; \`delivered {conversationId, seq}\`; \`ping\` → \`pong\`.
A frame that cannot be parsed or is unknown is answered by \`error {error}\` (with its \`reqId\` when it had one) and the socket stays open.
A frame over ${LIMITS.wsFrameBytes} bytes is answered by \`error\` \`too_large\`; one over ${WS_HARD_MAX_BYTES} bytes closes the socket (1009).
Typing is rate limited per user: over the limit the frame is answered by \`error\` \`rate_limited\` with \`data.retryAfter\` (seconds).

**Server frames**: \`message {envelope}\` (every device of every member except the sending socket, which gets the ack);
\`conversation {conversation}\` (your view, after a change); \`conversation.removed {conversationId}\`;
\`marker {conversationId, userId, kind, seq}\`; \`typing {conversationId, userId, active}\` (an indicator not refreshed for 5 s,
or whose socket closed, turns itself off with \`active:false\`); \`presence {userId, status, lastSeenAt}\` (right after \`ready\`, one per
visible peer online now; then on every change); \`session.revoked\` (then the socket closes with ${WS_CLOSE.revoked}).

**Liveness and backpressure**: the server pings every PARLEY_WS_HEARTBEAT_MS and drops a peer that misses a pong. A socket whose
unsent data exceeds PARLEY_WS_MAX_BUFFERED_BYTES is closed with ${WS_CLOSE.slowConsumer}: reconnect and resync from your cursor.
On shutdown sockets close with ${WS_CLOSE.serverShutdown}.`;

/** The WebSocket endpoint as the OpenAPI document shows it; the upgrade itself never reaches Fastify. */
export function gatewayRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(WS_PATH, {
      config: { auth: 'none' },
      schema: { tags: ['realtime'], summary: 'WebSocket: real-time delivery, typing and presence (upgrade required)', description: DESCRIPTION, security: [] },
    }, async (_req, reply) =>
      reply.status(426).header('upgrade', 'websocket').header('connection', 'Upgrade').send(toErrorBody('upgrade_required', 'this endpoint speaks WebSocket: send an Upgrade request')),
    );
  };
}
