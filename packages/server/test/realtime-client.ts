/**
 * A test client for GET /v1/ws: a real `ws` socket that records every frame, so tests can
 * wait for the next frame of a type, or prove that none arrived.
 */
import WebSocket, { type ClientOptions } from 'ws';
import type { Dialect } from '../src/storage/db.ts';
import { DIALECTS, IN_CI, REDIS_URL } from './harness.ts';

export type Frame = { type: string } & Record<string, any>;

export class WsClient {
  readonly frames: Frame[] = [];
  readonly ws: WebSocket;
  closed: { code: number; reason: string } | null = null;
  private readonly opened: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(url: string, options: ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    this.ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()));
      this.wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    this.ws.on('error', () => this.wake());
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once('error', reject);
    });
  }

  /** Open a socket and authenticate with the auth frame; resolves with `ready` once the setup is complete. */
  static async connect(wsUrl: string, token: string, options: ClientOptions = {}): Promise<{ client: WsClient; ready: Frame }> {
    const client = new WsClient(wsUrl, options);
    await client.open();
    client.send({ type: 'auth', token });
    const ready = await client.next('ready');
    // Frames wait for the socket's setup, presence snapshot included: after the pong,
    // everything that came with the connection has arrived.
    await client.sync();
    return { client, ready };
  }

  open(): Promise<void> {
    return this.opened;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first recorded frame matching, removed from the record; waits up to `timeoutMs`. */
  async next(type?: string, match: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f) => (type === undefined || f.type === type) && match(f));
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) before a ${type ?? 'frame'} arrived; got ${JSON.stringify(this.frames)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type ?? 'frame'} within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Nothing of this type arrives within `ms` (used after a later frame proved delivery works). */
  async none(type: string, match: (f: Frame) => boolean = () => true, ms = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const found = this.frames.find((f) => f.type === type && match(f));
    if (found) throw new Error(`unexpected ${type} frame: ${JSON.stringify(found)}`);
  }

  /** Round trip a ping: every frame the server wrote before the pong has arrived. */
  async sync(): Promise<void> {
    this.send({ type: 'ping' });
    await this.next('pong');
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`socket still open after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.closed;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/**
 * Whether the Redis suites run: under CI=true Redis must be there (the run fails without it);
 * elsewhere they are skipped when it is down.
 */
export async function redisAvailable(url: string, inCi: boolean): Promise<boolean> {
  const { Redis } = await import('ioredis');
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch (err) {
    if (inCi) throw new Error(`CI=true but Redis is not reachable at ${url}: ${(err as Error).message}`);
    return false;
  } finally {
    probe.disconnect();
  }
}

export interface Variant {
  dialect: Dialect;
  bus: 'memory' | 'redis';
  /** Config overrides that select the bus (Redis also carries presence). */
  config: { redisUrl?: string };
}

/**
 * The combinations the realtime suites run: every dialect on the in-process bus, and the
 * production shape (PostgreSQL where available, Redis bus and presence) when Redis is up
 * (always under CI).
 */
export async function busVariants(): Promise<Variant[]> {
  const out: Variant[] = DIALECTS.map((dialect) => ({ dialect, bus: 'memory' as const, config: {} }));
  if (await redisAvailable(REDIS_URL, IN_CI)) out.push({ dialect: DIALECTS.at(-1)!, bus: 'redis', config: { redisUrl: REDIS_URL } });
  return out;
}
