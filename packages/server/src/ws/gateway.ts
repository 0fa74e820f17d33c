import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ClientFrame, LIMITS, ReqId, WS_CLOSE, type Ack, type ErrorCode, type SendBody, type ServerFrame } from '@parley/protocol';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Bus } from '../bus/bus.ts';
import type { DomainEvent } from '../bus/events.ts';
import type { AppContext, Caller } from '../context.ts';
import { AppError } from '../errors.ts';
import { uuidv4 } from '../ids.ts';
import { bearerToken, type Authenticator } from '../http/auth.ts';
import { parseJsonStrict } from '../http/limits.ts';
import { frameBytes, textFrame, type TextFrame } from './frames.ts';
import { FANOUT_TOPIC, recipientsOf, userTopic, type ConversationsPort, type MessagesPort, type Realtime } from '../modules/realtime/index.ts';

export const WS_PATH = '/v1/ws';

/**
 * Frames above LIMITS.wsFrameBytes are refused with `too_large` and the socket stays open;
 * a frame above this hard cap is not even buffered: the socket is closed with 1009.
 */
export const WS_HARD_MAX_BYTES = 1024 * 1024;

/** Frames a socket may have in flight (sends awaiting their commit) before it stops being read. */
const MAX_IN_FLIGHT = 64;

/** Frames that may queue behind an auth still in progress. */
export const MAX_WAITING = 64;

/** How long a socket's setup waits for its bus subscription. */
const BUS_WAIT_MS = 2_000;

const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** A shared frame is a Buffer of JSON: sent as a text frame all the same. */
const TEXT_FRAME = { binary: false } as const;

/** After a close frame, how long a peer has to answer before its socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;

export interface GatewayDeps {
  auth: Authenticator;
  realtime: Realtime;
  conversations: Pick<ConversationsPort, 'view' | 'currentCursor'>;
  messages: MessagesPort & {
    /** `send` in two steps: resolves once the send is queued for its commit, with its result (settled after the commit). */
    enqueue(caller: Caller, conversationId: string, body: SendBody, origin?: string): Promise<{ result: Promise<{ ack: Ack; created: boolean }> }>;
  };
}

/** A frame's work may end its turn (the next frame of its queue may start) before its reply is due. */
type Later = { done: Promise<void> } | void;

interface Connection {
  id: string;
  ws: WebSocket;
  caller: Caller | null;
  token: string | null;
  /** Set by a pong; cleared at each heartbeat. */
  alive: boolean;
  authTimer: NodeJS.Timeout | null;
  /** The auth in progress: frames that arrive meanwhile wait for it. */
  authenticating: Promise<void> | null;
  /** Frames waiting for that auth. */
  waiting: number;
  /** Counted in the connections gauge and the presence store. */
  joined: boolean;
  closing: boolean;
  killTimer: NodeJS.Timeout | null;
  inFlight: number;
  /** Sends into one conversation are queued for their commit in the order they arrived. */
  sendQueues: Map<string, Promise<void>>;
  /** Frames written this turn, not yet on the socket (the gateway's `flush`), and their bytes. */
  out: Buffer[];
  outBytes: number;
}

/** What the Authorization header of the upgrade said: a caller, a bad token, or nothing. */
type HeaderAuth = { caller: Caller; token: string } | 'refused' | null;

interface LocalUser {
  connections: Set<Connection>;
  /** The bus subscription of this user's topic: live once resolved. */
  subscription: Promise<() => Promise<void>>;
  /** Views are built one after the other, so a stale view never lands after a fresh one. */
  views: Promise<void>;
}

/**
 * The WebSocket transport at GET /v1/ws: auth, framing, heartbeats, backpressure, and
 * delivery of bus events to the local sockets of each user. One instance per process.
 */
export function createGateway(ctx: AppContext, bus: Bus, deps: GatewayDeps) {
  const { config, log, metrics } = ctx;
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_HARD_MAX_BYTES, perMessageDeflate: false, clientTracking: false });
  const connections = new Set<Connection>();
  const users = new Map<string, LocalUser>();
  /** Work that must finish before shutdown completes (presence writes of closing sockets). */
  const pending = new Set<Promise<unknown>>();
  /**
   * Each event is serialized and framed once, whatever the number of local sockets it
   * reaches: the bus hands one event to its local recipients one after another, in one go
   * (a publish's handlers run synchronously), so the last one framed is all there is to
   * keep. A WeakMap did the same at the cost of a GC write barrier and a table entry per event.
   */
  let framedEvent: DomainEvent | null = null;
  let framed: TextFrame | null = null;
  let shuttingDown = false;

  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  // Events for many users come once per process, on the fan-out topic, with their recipients.
  const fanout = bus.subscribe(FANOUT_TOPIC, (event) => {
    for (const userId of recipientsOf(event)) {
      const local = users.get(userId);
      if (local) deliver(userId, local, event);
    }
  });
  fanout.catch((err) => log.error({ err }, 'fan-out subscription failed'));

  const heartbeat = setInterval(() => {
    for (const c of connections) {
      if (!c.alive) {
        log.debug({ connection: c.id }, 'websocket missed a pong: terminated');
        c.ws.terminate();
        continue;
      }
      if (c.closing || c.ws.readyState !== c.ws.OPEN) continue;
      c.alive = false;
      c.ws.ping();
    }
  }, config.wsHeartbeatMs);
  heartbeat.unref();

  // ---- writing ------------------------------------------------------------------------

  /**
   * Connections written to during this turn of the event loop. Their frames are held and
   * leave when the turn's callbacks are done, in one write per socket: a batch's acks and
   * deliveries together, and the one frame most sockets of a fan-out get as a plain write of
   * it. (Corking the socket instead cost a request object, an array of chunks and a writev
   * per socket in Node's stream, more than the bytes.)
   */
  const outgoing: Connection[] = [];
  const flushAll = () => {
    for (let i = 0; i < outgoing.length; i++) flush(outgoing[i]!);
    outgoing.length = 0;
  };

  /** Write what `c` holds, as one Buffer; dropped when the socket is gone or closing. */
  function flush(c: Connection): void {
    const out = c.out;
    if (out.length === 0) return;
    const bytes = out.length === 1 ? out[0]! : Buffer.concat(out, c.outBytes);
    out.length = 0;
    c.outBytes = 0;
    const socket = socketOf(c);
    if (socket && !socket.destroyed && c.ws.readyState === c.ws.OPEN) socket.write(bytes);
  }

  const socketOf = (c: Connection) => (c.ws as unknown as { _socket?: Duplex })._socket;

  /**
   * Write one serialized message, or a shared frame built once (`textFrame`), or cut the
   * socket if it is not draining. The frames go to the socket as they are, held until the
   * end of the turn (`flush`): `ws` only queues frames of its own while it compresses or
   * reads a Blob, and this server does neither (perMessageDeflate is off, every payload is a
   * string or a Buffer), so the order of the frames is the order of the writes. Every frame
   * `ws` writes itself (a close, a ping, a pong) is a control frame, which may come between
   * messages; `close` flushes first, so nothing follows a close frame.
   */
  function write(c: Connection, data: string | TextFrame): boolean {
    if (c.closing || c.ws.readyState !== c.ws.OPEN) return false;
    const bytes = typeof data === 'string' ? frameBytes(data) : data.bytes;
    // A frame always fits into an empty buffer, so the bound is the limit plus one frame.
    const buffered = c.ws.bufferedAmount + c.outBytes;
    if (buffered > 0 && buffered + bytes.length > config.wsMaxBufferedBytes) {
      metrics.slowConsumers.inc();
      log.info({ connection: c.id, userId: c.caller?.userId, buffered }, 'slow consumer cut');
      close(c, WS_CLOSE.slowConsumer, 'slow consumer: reconnect and resync');
      return false;
    }
    if (!socketOf(c)) {
      c.ws.send(typeof data === 'string' ? data : data.payload, TEXT_FRAME);
      return true;
    }
    if (c.out.length === 0 && outgoing.push(c) === 1) process.nextTick(flushAll);
    c.out.push(bytes);
    c.outBytes += bytes.length;
    return true;
  }

  const send = (c: Connection, frame: ServerFrame) => write(c, JSON.stringify(frame));

  function sendError(c: Connection, code: ErrorCode, message: string, reqId?: string | number, data?: Record<string, unknown>): void {
    metrics.errors.inc({ code });
    const error = data ? { code, message, data } : { code, message };
    send(c, reqId === undefined ? { type: 'error', error } : { type: 'error', reqId, error });
  }

  /** Close with a code; a peer that does not complete the closing handshake is destroyed. */
  function close(c: Connection, code: number, reason: string): void {
    if (c.closing) return;
    flush(c);
    c.closing = true;
    c.ws.close(code, reason);
    c.killTimer = setTimeout(() => c.ws.terminate(), CLOSE_GRACE_MS);
    c.killTimer.unref();
  }

  // ---- bus → sockets ------------------------------------------------------------------

  /** The events every recipient gets the same frame of. */
  type SharedEvent = Extract<DomainEvent, { type: 'message' | 'conversation.removed' | 'marker' | 'typing' | 'presence' }>;

  /** What the socket says of a shared event (a plain function: no builder closure per recipient). */
  function frameOf(event: SharedEvent): ServerFrame {
    switch (event.type) {
      case 'message':
        return { type: 'message', envelope: event.envelope };
      case 'conversation.removed':
        return { type: 'conversation.removed', conversationId: event.conversationId };
      case 'marker':
        return { type: 'marker', conversationId: event.conversationId, userId: event.userId, kind: event.kind, seq: event.seq };
      case 'typing':
        return { type: 'typing', conversationId: event.conversationId, userId: event.userId, active: event.active };
      case 'presence':
        return { type: 'presence', userId: event.userId, status: event.status, lastSeenAt: event.lastSeenAt };
    }
  }

  function shared(event: SharedEvent): TextFrame {
    if (framedEvent !== event || framed === null) {
      // Encoded and framed once too: a string would be measured, UTF-8 encoded and framed again for every socket.
      framed = textFrame(JSON.stringify(frameOf(event)));
      framedEvent = event;
    }
    return framed;
  }

  /** Write a shared frame to every joined socket of `local`. */
  function writeAll(local: LocalUser, data: TextFrame): void {
    for (const c of local.connections) if (c.joined) write(c, data);
  }

  /** An event for `userId` arrived: write it to that user's sockets here (`local`). */
  function deliver(userId: string, local: LocalUser, event: DomainEvent): void {
    if (local.connections.size === 0) return;
    switch (event.type) {
      case 'message': {
        // Not serialized at all when the only socket here is the one that sent it (it gets the ack).
        let n = 0;
        let frame: TextFrame | undefined;
        for (const c of local.connections) {
          if (!c.joined || c.id === event.origin) continue;
          frame ??= shared(event);
          if (write(c, frame)) n++;
        }
        if (n > 0) metrics.messagesDelivered.add(n);
        return;
      }
      case 'conversation.changed': {
        let joined = false;
        for (const c of local.connections) joined ||= c.joined;
        if (!joined) return;
        // The view is per user (their state, unread count, mute): built for each recipient.
        const work = local.views
          .then(() => deps.conversations.view(userId, event.conversationId))
          .then((conversation) => {
            if (!conversation) return;
            const data = JSON.stringify({ type: 'conversation', conversation } satisfies ServerFrame);
            for (const c of local.connections) if (c.joined) write(c, data);
          })
          .catch((err) => log.warn({ err, conversationId: event.conversationId }, 'conversation view for a socket failed'));
        local.views = work;
        track(work);
        return;
      }
      case 'conversation.removed':
      case 'marker':
      case 'typing':
      case 'presence':
        writeAll(local, shared(event));
        return;
      case 'session.revoked': {
        for (const c of local.connections) {
          if (c.caller?.sessionId !== event.sessionId) continue;
          send(c, { type: 'session.revoked' });
          close(c, WS_CLOSE.revoked, 'session revoked');
        }
        return;
      }
      case 'user.changed': {
        // Profiles are fetched over HTTP (the socket has no frame for them), but a changed
        // setting, connection or block may show a user's presence to someone new.
        const { presence } = deps.realtime;
        if (event.userId === userId) track(presence.refresh(userId));
        else track(Promise.all([presence.refresh(userId, [event.userId]), presence.refresh(event.userId, [userId])]));
        return;
      }
      default: {
        const never: never = event;
        log.warn({ event: never }, 'unknown event type on the bus');
      }
    }
  }

  // ---- connection lifecycle -----------------------------------------------------------

  function join(c: Connection, caller: Caller): LocalUser {
    let local = users.get(caller.userId);
    if (!local) users.set(caller.userId, (local = localUser(caller.userId)));
    local.connections.add(c);
    return local;
  }

  /** A user's first socket here: their bus subscription, which delivers to their sockets with no lookup per event. */
  function localUser(userId: string): LocalUser {
    const local: LocalUser = {
      connections: new Set(),
      subscription: bus.subscribe(userTopic(userId), (event) => deliver(userId, local, event)),
      views: Promise.resolve(),
    };
    return local;
  }

  function leave(c: Connection, userId: string): void {
    const local = users.get(userId);
    if (!local) return;
    local.connections.delete(c);
    if (local.connections.size > 0) return;
    users.delete(userId);
    // Not awaited at shutdown: with Redis down the subscription may never have gone live,
    // and closing the bus drops it anyway.
    local.subscription.then((unsubscribe) => unsubscribe()).catch((err) => log.warn({ err }, 'bus unsubscribe failed'));
  }

  /** The caller is known: subscribe, take the cursor, say ready, then count them online. */
  async function ready(c: Connection, caller: Caller, token: string): Promise<void> {
    if (c.authTimer) clearTimeout(c.authTimer);
    c.authTimer = null;
    c.caller = caller;
    c.token = token;
    const local = join(c, caller);
    // With the bus down (Redis unreachable) the socket is still served; its subscription
    // goes live when the bus comes back.
    const live = await Promise.race([local.subscription.then(() => true), delay(BUS_WAIT_MS).then(() => false)]);
    if (!live) log.warn({ userId: caller.userId }, 'bus subscription not live yet: socket served without it');
    // Subscribed before the cursor is taken: whatever commits from here on is pushed, and
    // whatever committed before is behind the cursor. A revocation that slipped in between
    // the token check and the subscription is caught by checking the token once more.
    const [still, cursor] = await Promise.all([deps.auth.authenticate(token), Promise.resolve(deps.conversations.currentCursor())]);
    if (!still || still.sessionId !== caller.sessionId) {
      send(c, { type: 'session.revoked' });
      close(c, WS_CLOSE.revoked, 'session revoked');
      return;
    }
    if (c.closing || c.ws.readyState !== c.ws.OPEN) return;
    c.joined = true;
    metrics.connections.inc();
    send(c, { type: 'ready', sessionId: caller.sessionId, userId: caller.userId, cursor });
    // Presence is best effort: a failure here must not cost the socket it is about.
    try {
      for (const p of await deps.realtime.presence.connected(caller.userId)) send(c, { type: 'presence', ...p });
    } catch (err) {
      log.warn({ err, userId: caller.userId }, 'presence snapshot failed');
    }
  }

  function onClose(c: Connection): void {
    if (!connections.delete(c)) return;
    if (c.authTimer) clearTimeout(c.authTimer);
    if (c.killTimer) clearTimeout(c.killTimer);
    if (!c.caller) return;
    const userId = c.caller.userId;
    leave(c, userId);
    deps.realtime.typing.dropConnection(c.id);
    if (c.joined) {
      c.joined = false;
      metrics.connections.dec();
      track(deps.realtime.presence.disconnected(userId));
    }
  }

  function accept(ws: WebSocket, headerAuth: HeaderAuth): void {
    const c: Connection = {
      id: uuidv4(),
      ws,
      caller: null,
      token: null,
      alive: true,
      authTimer: null,
      authenticating: null,
      waiting: 0,
      joined: false,
      closing: false,
      killTimer: null,
      inFlight: 0,
      sendQueues: new Map(),
      out: [],
      outBytes: 0,
    };
    connections.add(c);
    ws.on('pong', () => {
      c.alive = true;
    });
    ws.on('message', (data, isBinary) => onMessage(c, data, isBinary));
    ws.on('close', () => onClose(c));
    ws.on('error', (err) => {
      // A frame over the hard cap, a protocol violation or a reset: ws closes the socket.
      log.debug({ err, connection: c.id }, 'websocket error');
    });
    if (headerAuth === 'refused') {
      // The same answer as a bad auth frame: a client handles one kind of refusal.
      refuse(c);
    } else if (headerAuth) {
      c.authenticating = ready(c, headerAuth.caller, headerAuth.token)
        .catch((err) => failed(c, err))
        .finally(() => {
          c.authenticating = null;
        });
    } else {
      c.authTimer = setTimeout(() => close(c, WS_CLOSE.authTimeout, 'authenticate first'), config.wsAuthTimeoutMs);
      c.authTimer.unref();
    }
  }

  function failed(c: Connection, err: unknown): void {
    log.error({ err, connection: c.id }, 'websocket setup failed');
    sendError(c, 'internal', 'internal error');
    close(c, 1011, 'internal error');
  }

  // ---- client frames ------------------------------------------------------------------

  function onMessage(c: Connection, data: RawData, isBinary: boolean): void {
    if (c.closing) return;
    if (c.authenticating) {
      // A client may pipeline frames right behind its auth frame: they wait for it, up to a point.
      if (++c.waiting > MAX_WAITING) return close(c, 1008, 'too many frames before ready');
      void c.authenticating.then(() => {
        c.waiting--;
        onMessage(c, data, isBinary);
      });
      return;
    }
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (bytes.length > LIMITS.wsFrameBytes) {
      if (!c.caller) return refuseUnauthenticated(c);
      return sendError(c, 'too_large', `a frame may have at most ${LIMITS.wsFrameBytes} bytes`, undefined, { limit: LIMITS.wsFrameBytes });
    }
    let raw: unknown;
    try {
      if (isBinary) throw new Error('binary');
      // The same limits as HTTP bodies: depth, duplicate and prototype keys, NUL, lone surrogates, sizes.
      raw = parseJsonStrict(bytes.toString('utf8'), 'frame');
    } catch (err) {
      if (!c.caller) return refuseUnauthenticated(c);
      if (err instanceof AppError) return sendError(c, err.code, err.message, reqIdOf(bytes), err.data);
      return sendError(c, 'invalid_request', 'a frame is one JSON object, sent as text');
    }
    const reqIdRaw = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>).reqId : undefined;
    const reqId = ReqId.safeParse(reqIdRaw).success ? (reqIdRaw as string | number) : undefined;
    const parsed = ClientFrame.safeParse(raw);
    if (!parsed.success) {
      if (!c.caller) return refuseUnauthenticated(c);
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') ?? '';
      const type = (raw as { type?: unknown } | null)?.type;
      const message =
        issue?.code === 'invalid_union' && field === 'type'
          ? `unknown frame type ${JSON.stringify(type)}`
          : `${field || 'frame'}: ${issue?.message ?? 'invalid'}`;
      return sendError(c, 'invalid_request', message, reqId, { field: field || 'type' });
    }
    const frame = parsed.data;
    if (!c.caller) {
      if (frame.type !== 'auth') return refuseUnauthenticated(c);
      // The timeout is for clients that never authenticate; one whose auth frame is in
      // (and waits on a busy server, as in a reconnect storm) is not cut for our slowness.
      if (c.authTimer) clearTimeout(c.authTimer);
      c.authTimer = null;
      c.authenticating = authenticate(c, frame.token).finally(() => {
        c.authenticating = null;
      });
      return;
    }
    dispatch(c, c.caller, frame, reqId);
  }

  /** The reqId of a frame refused by the limits, when plain JSON can still read one (it is answered with it). */
  function reqIdOf(bytes: Buffer): string | number | undefined {
    try {
      const id = (JSON.parse(bytes.toString('utf8')) as { reqId?: unknown } | null)?.reqId;
      return ReqId.safeParse(id).success ? (id as string | number) : undefined;
    } catch {
      return undefined;
    }
  }

  function refuseUnauthenticated(c: Connection): void {
    sendError(c, 'unauthorized', 'the first frame must be {"type":"auth","token":…}');
    close(c, WS_CLOSE.unauthorized, 'unauthorized');
  }

  function refuse(c: Connection): void {
    sendError(c, 'unauthorized', 'the token is invalid or was revoked');
    close(c, WS_CLOSE.unauthorized, 'unauthorized');
  }

  async function authenticate(c: Connection, token: string): Promise<void> {
    try {
      const caller = await deps.auth.authenticate(token);
      if (!caller) return refuse(c);
      await ready(c, caller, token);
    } catch (err) {
      failed(c, err);
    }
  }

  function dispatch(c: Connection, caller: Caller, frame: ClientFrame, reqId: string | number | undefined): void {
    switch (frame.type) {
      case 'auth':
        return sendError(c, 'invalid_request', 'already authenticated', reqId);
      case 'ping':
        send(c, { type: 'pong' });
        return;
      case 'send': {
        const { type: _type, conversationId, reqId: id, ...body } = frame;
        // Pipelined: the next send into this conversation is planned and queued as soon as this
        // one is queued (the group commit keeps their order), not once this one committed.
        return run(c, reqId, conversationId, async () => {
          const { result } = await deps.messages.enqueue(caller, conversationId, body, c.id);
          return {
            done: result.then(({ ack }) => {
              send(c, { type: 'ack', reqId: id, id: ack.id, seq: ack.seq, createdAt: ack.createdAt });
            }),
          };
        });
      }
      case 'read':
      case 'delivered':
        return run(c, reqId, frame.conversationId, async () => {
          await deps.messages.mark(caller, frame.conversationId, frame.type, frame.seq);
        });
      case 'typing':
        return run(c, reqId, null, () => deps.realtime.typing.update(caller, c.id, frame.conversationId, frame.active));
      default: {
        const never: never = frame;
        sendError(c, 'invalid_request', `unknown frame type ${JSON.stringify((never as { type: string }).type)}`, reqId);
      }
    }
  }

  /**
   * Run a frame's work, answering its failure with an error frame. Work keyed by a
   * conversation starts after the socket's earlier work on that conversation has had its
   * turn (for a send: once it is queued for its commit, so sends stay in order while
   * several are in flight); a socket with too much in flight is not read until it drains.
   */
  function run(c: Connection, reqId: string | number | undefined, queueKey: string | null, work: () => Promise<Later>): void {
    c.inFlight++;
    if (c.inFlight >= MAX_IN_FLIGHT) c.ws.pause();
    const finish = () => {
      c.inFlight--;
      if (c.inFlight < MAX_IN_FLIGHT / 2 && c.ws.isPaused) c.ws.resume();
    };
    const failed = (err: unknown) => {
      try {
        answerError(c, err, reqId);
      } finally {
        finish();
      }
    };
    // Every send takes this path: one settled promise per step, no catch-then-finally pair.
    const turn = async () => {
      let later: Later;
      try {
        later = await work();
      } catch (err) {
        return failed(err);
      }
      if (!later) return finish();
      void later.done.then(finish, failed);
    };
    if (queueKey === null) {
      void turn();
      return;
    }
    // Nothing of this conversation in flight on the socket (the common case): start now,
    // rather than a microtask later behind an already settled promise.
    const previous = c.sendQueues.get(queueKey);
    const next = previous ? previous.then(turn) : turn();
    c.sendQueues.set(queueKey, next);
    void next.then(() => {
      if (c.sendQueues.get(queueKey) === next) c.sendQueues.delete(queueKey);
    });
  }

  function answerError(c: Connection, err: unknown, reqId: string | number | undefined): void {
    if (err instanceof AppError) {
      const data = err.retryAfter !== undefined ? { ...err.data, retryAfter: Math.max(1, Math.ceil(err.retryAfter)) } : err.data;
      return sendError(c, err.code, err.message, reqId, data);
    }
    if (ctx.database.isUnavailable(err)) return sendError(c, 'unavailable', 'the database is unavailable; try again shortly', reqId, { retryAfter: 1 });
    log.error({ err, connection: c.id }, 'unexpected error in a websocket frame');
    sendError(c, 'internal', 'internal error', reqId);
  }

  // ---- HTTP upgrade -------------------------------------------------------------------

  function reject(socket: Duplex, status: number, code: ErrorCode, message: string): void {
    const body = JSON.stringify({ error: { code, message } });
    const reason = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : status === 503 ? 'Service Unavailable' : 'Bad Request';
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const pathname = (req.url ?? '').split('?')[0];
    if (pathname !== WS_PATH) return reject(socket, 404, 'not_found', `no WebSocket at ${pathname}`);
    if (shuttingDown) return reject(socket, 503, 'unavailable', 'the server is shutting down');
    // Only the header may carry a token here: a token in the URL (?token=) is ignored, so
    // it never authenticates and never ends up in access logs as a working credential.
    let headerAuth: HeaderAuth = null;
    if (req.headers.authorization !== undefined) {
      const token = bearerToken(req.headers.authorization);
      let caller: Caller | null = null;
      try {
        caller = token ? await deps.auth.authenticate(token) : null;
      } catch (err) {
        log.warn({ err }, 'websocket header auth failed');
        return reject(socket, 503, 'unavailable', 'try again shortly');
      }
      headerAuth = token && caller ? { caller, token } : 'refused';
    }
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, headerAuth));
  }

  return {
    /** Take over WebSocket upgrades of the HTTP server. */
    attach(server: Server): void {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        onUpgrade(req, socket, head).catch((err) => {
          log.error({ err }, 'websocket upgrade failed');
          socket.destroy();
        });
      });
    },

    /** Sockets open on this process, authenticated or not. */
    get size(): number {
      return connections.size;
    },

    /** Close every socket (1001: reconnect elsewhere) and wait for their presence to settle. */
    async close(): Promise<void> {
      shuttingDown = true;
      clearInterval(heartbeat);
      for (const c of connections) close(c, WS_CLOSE.serverShutdown, 'server shutting down');
      const deadline = Date.now() + CLOSE_GRACE_MS + 500;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const c of connections) {
        c.ws.terminate();
        onClose(c);
      }
      while (pending.size > 0) await Promise.allSettled([...pending]);
      fanout.then((unsubscribe) => unsubscribe()).catch(() => {});
    },
  };
}

export type Gateway = ReturnType<typeof createGateway>;
