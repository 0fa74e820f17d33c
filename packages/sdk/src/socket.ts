import { WS_CLOSE, type ClientFrame, type ServerFrame, type ServerFrameOf } from '@parley/protocol';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { ApiError, apiErrorFrom } from './errors.ts';
import type { Ack, SendBody } from './types.ts';

/** The part of the WHATWG WebSocket the SDK uses: the browser's global and the `ws` package both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `connecting` while (re)connecting or authenticating, `online` once the server said `ready`, `offline` when stopped or signed out. */
export type ConnectionState = 'connecting' | 'online' | 'offline';

export interface SocketOptions {
  /** `ws(s)://host/v1/ws`. */
  url: string;
  WebSocket: WebSocketConstructor;
  getToken(): string | null;
  reconnect?: BackoffOptions;
  /** Send a `ping` after this much silence (default 20 s). */
  pingIntervalMs?: number;
  /** Give up on a connection silent this long after a ping (default 10 s). */
  pongTimeoutMs?: number;
  /** Give up on a send not acked within this time (default 15 s). */
  requestTimeoutMs?: number;
}

type ReadyFrame = ServerFrameOf<'ready'>;

export type SocketEvents = {
  state: [ConnectionState];
  ready: [ReadyFrame];
  frame: [ServerFrame];
  /** The server refused the token (close 4401) or revoked the session: the socket stays down. */
  signedOut: ['unauthorized' | 'revoked'];
};

const OPEN = 1;

interface Pending {
  resolve(ack: Ack): void;
  reject(err: ApiError): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * One logical connection to the gateway: authenticates with the first frame (never a token in
 * the URL), keeps the line alive with ping/pong, and reconnects with jittered backoff until
 * stopped or signed out.
 */
export class Socket extends Emitter<SocketEvents> {
  private ws: WebSocketLike | null = null;
  private wanted = false;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private pingSentAt = 0;
  private nextReqId = 1;
  private readonly pending = new Map<string, Pending>();
  private current: ConnectionState = 'offline';

  constructor(private readonly options: SocketOptions) {
    super();
  }

  get state(): ConnectionState {
    return this.current;
  }

  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.attempt = 0;
    this.open();
  }

  stop(): void {
    this.wanted = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.teardown(1000, 'client closed');
    this.setState('offline');
  }

  /** Drop the current connection and connect again at once (e.g. the browser came back online). */
  reconnectNow(): void {
    if (!this.wanted) return;
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.open();
    } else {
      this.ws?.close(4000, 'reconnect');
    }
  }

  /** Send a fire-and-forget frame; false when not online. */
  send(frame: ClientFrame): boolean {
    if (this.current !== 'online' || !this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send an envelope over the socket and wait for its `ack` (or `error`). */
  sendEnvelope(conversationId: string, body: SendBody): Promise<Ack> {
    const reqId = `r${this.nextReqId++}`;
    return new Promise<Ack>((resolve, reject) => {
      if (!this.send({ type: 'send', conversationId, reqId, ...body })) {
        reject(new ApiError('network_error', 'the socket is not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new ApiError('timeout', 'no ack from the server in time'));
      }, this.options.requestTimeoutMs ?? 15_000);
      this.pending.set(reqId, { resolve, reject, timer });
    });
  }

  private setState(state: ConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    this.emit('state', state);
  }

  private open(): void {
    this.reconnectTimer = null;
    if (!this.wanted) return;
    const token = this.options.getToken();
    if (!token) {
      this.wanted = false;
      this.setState('offline');
      this.emit('signedOut', 'unauthorized');
      return;
    }
    this.setState('connecting');
    let ws: WebSocketLike;
    try {
      ws = new this.options.WebSocket(this.options.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      ws.send(JSON.stringify({ type: 'auth', token } satisfies ClientFrame));
      this.startHeartbeat();
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      this.pingSentAt = 0;
      const text = typeof event.data === 'string' ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
      let frame: ServerFrame;
      try {
        frame = JSON.parse(text) as ServerFrame;
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onerror = () => {
      // The close event follows and decides what to do.
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopHeartbeat();
      this.failPending(new ApiError('network_error', `the socket closed (${event.code})`));
      if (event.code === WS_CLOSE.unauthorized || event.code === WS_CLOSE.revoked) {
        this.wanted = false;
        this.setState('offline');
        this.emit('signedOut', event.code === WS_CLOSE.revoked ? 'revoked' : 'unauthorized');
        return;
      }
      if (!this.wanted) {
        this.setState('offline');
        return;
      }
      this.scheduleReconnect();
    };
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'ready':
        this.attempt = 0;
        this.setState('online');
        this.emit('ready', frame);
        return;
      case 'ack': {
        const p = this.pending.get(String(frame.reqId));
        if (!p) return;
        this.pending.delete(String(frame.reqId));
        clearTimeout(p.timer);
        p.resolve({ id: frame.id, seq: frame.seq, createdAt: frame.createdAt });
        return;
      }
      case 'error': {
        const p = frame.reqId === undefined ? undefined : this.pending.get(String(frame.reqId));
        if (!p) {
          this.emit('frame', frame);
          return;
        }
        this.pending.delete(String(frame.reqId));
        clearTimeout(p.timer);
        const retryAfter = typeof frame.error.data?.retryAfter === 'number' ? frame.error.data.retryAfter : undefined;
        p.reject(apiErrorFrom(frame.error, undefined, retryAfter));
        return;
      }
      case 'pong':
        return;
      case 'session.revoked':
        this.emit('frame', frame);
        this.wanted = false;
        this.teardown(1000, 'session revoked');
        this.setState('offline');
        this.emit('signedOut', 'revoked');
        return;
      default:
        this.emit('frame', frame);
    }
  }

  private scheduleReconnect(): void {
    this.setState('connecting');
    const delay = backoffDelay(this.attempt++, this.options.reconnect);
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const interval = this.options.pingIntervalMs ?? 20_000;
    const timeout = this.options.pongTimeoutMs ?? 10_000;
    const tick = Math.max(50, Math.min(interval, timeout) / 2);
    this.heartbeatTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== OPEN) return;
      const now = Date.now();
      if (this.pingSentAt && now - this.pingSentAt > timeout) {
        // A half-open TCP connection never closes by itself: cut it and reconnect.
        ws.close(4000, 'heartbeat timeout');
        this.dropDeadSocket(ws);
        return;
      }
      if (!this.pingSentAt && now - this.lastHeard >= interval) {
        this.pingSentAt = now;
        ws.send(JSON.stringify({ type: 'ping' } satisfies ClientFrame));
      }
    }, tick);
  }

  /** A socket that does not answer may never deliver its close event: act as if it had. */
  private dropDeadSocket(ws: WebSocketLike): void {
    if (this.ws !== ws) return;
    const onclose = ws.onclose;
    ws.onclose = null;
    onclose?.({ code: 4000, reason: 'heartbeat timeout' });
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.pingSentAt = 0;
  }

  private failPending(err: ApiError): void {
    for (const [reqId, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(reqId);
      p.reject(err);
    }
  }

  private teardown(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    this.failPending(new ApiError('network_error', 'the socket closed'));
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      // Keep an error listener: Node's `ws` throws on an 'error' nobody listens to (closing while connecting emits one).
      ws.onerror = () => {};
      try {
        ws.close(code, reason);
      } catch {
        // Already closed.
      }
    }
  }
}
