import net, { type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { WebSocket } from 'ws';
import { ParleyClient, type ParleyClientOptions } from '../src/index.ts';
import { startTestServer, type TestServer } from '@parley/server/testing';

let counter = 0;

/** A client of the test server with quick reconnects, signed up as a fresh user. */
export async function signedUpClient(t: { url: string }, prefix = 'u', options: Partial<ParleyClientOptions> = {}): Promise<{ client: ParleyClient; id: string; username: string }> {
  const client = new ParleyClient({ baseUrl: t.url, WebSocket: WebSocket as never, reconnect: { minDelayMs: 20, maxDelayMs: 200 }, ...options });
  const username = `${prefix}_${process.pid % 1000}_${(counter++).toString(36)}_${Math.random().toString(36).slice(2, 7)}`.slice(0, 32);
  const { user } = await client.accounts.signUp({ username, password: 'correct horse battery' });
  return { client, id: user.id, username };
}

/** Poll until `check` returns a truthy value (events cross processes and sockets). */
export async function eventually<T>(check: () => T | Promise<T>, what = 'condition', timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export type { TestServer };

/**
 * The server of a describe block: started before its tests, closed after them, and the
 * clients its tests open (push them to `clients`) disconnected first.
 */
export function suiteServer(...args: Parameters<typeof startTestServer>): { readonly t: TestServer; clients: ParleyClient[] } {
  let server: TestServer | undefined;
  const clients: ParleyClient[] = [];
  beforeAll(async () => {
    server = await startTestServer(...args);
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.close();
  });
  return {
    clients,
    get t() {
      if (!server) throw new Error('the suite server is not started yet (use it inside a test)');
      return server;
    },
  };
}

/**
 * A TCP relay in front of the server: `cut()` drops every connection through it at once,
 * the way a network change or a load balancer restart does; `pause()` keeps the client out.
 */
export async function startRelay(targetUrl: string): Promise<{ url: string; cut(): void; freeze(): void; pause(): void; resume(): void; close(): Promise<void> }> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let paused = false;
  const server = net.createServer((inbound) => {
    if (paused) {
      inbound.destroy();
      return;
    }
    const outbound = net.connect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    /** Stop carrying bytes on the open connections without closing them: a half-open link no close event reports. */
    freeze: () => {
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    /** Refuse new connections (the network is down) until `resume()`. */
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Frame = { type: string; [k: string]: unknown };

/**
 * A `ws` WebSocket whose incoming frames pass through `filter` first: it can drop a frame
 * (a lost delivery) or kill the connection right there (a crash mid-send).
 */
export function filteredWebSocket(filter: (frame: Frame, ws: WebSocket) => 'pass' | 'drop') {
  return class FilteredWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      let handler: ((event: { data: unknown }) => void) | null = null;
      // The SDK assigns `onmessage`; route it through the filter instead of the real listener.
      Object.defineProperty(this, 'onmessage', {
        get: () => handler,
        set: (fn: typeof handler) => {
          handler = fn;
        },
      });
      this.addEventListener('message', (event) => {
        const frame = JSON.parse(String(event.data)) as Frame;
        if (filter(frame, this) === 'drop') return;
        handler?.({ data: event.data });
      });
    }
  };
}
