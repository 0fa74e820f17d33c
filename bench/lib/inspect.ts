/**
 * Memory of another process, measured precisely: through its inspector (node --inspect),
 * force a full garbage collection, then read process.memoryUsage() and /proc VmRSS. Without
 * the collection, garbage left by setup makes per-socket figures noise.
 */
import { WebSocket } from 'ws';
import { rssBytes, sleep, waitFor, type Pinned } from './proc.ts';

export const INSPECT_ARGS = ['--inspect=127.0.0.1:0'];

export interface MemorySample {
  rss: number;
  heapUsed: number;
  /** What V8 holds of the system for its heap (used or not): the young generation's semi-spaces among it. */
  heapTotal: number;
  external: number;
}

/**
 * The process's RSS once it has stopped moving: memory freed by a collection goes back to
 * the system a little later and in steps (V8's pool of freed pages, its memory reducer):
 * after W1's forced collections Parley's RSS went 227 → 215 → 156 MB within 1.3 s, and a run
 * that read it at once reported the slope as negative. Polled every 250 ms until it has
 * stayed within `toleranceBytes` for `stableMs` (or `maxMs` passed).
 */
export async function settledRss(pid: number, options: { stableMs?: number; maxMs?: number; toleranceBytes?: number; read?: (pid: number) => number } = {}): Promise<number> {
  const { stableMs = 2000, maxMs = 10_000, toleranceBytes = 256 * 1024, read = rssBytes } = options;
  const deadline = performance.now() + maxMs;
  let since = performance.now();
  let mark = read(pid);
  for (;;) {
    await sleep(250);
    const now = read(pid);
    if (Math.abs(now - mark) > toleranceBytes) {
      mark = now;
      since = performance.now();
    } else if (performance.now() - since >= stableMs) return now;
    if (performance.now() > deadline) return now;
  }
}

export class Inspector {
  private nextId = 1;
  private constructor(private readonly ws: WebSocket) {}

  /** Attach to a process started with INSPECT_ARGS (its stderr names the debugger URL). */
  static async attach(p: Pinned): Promise<Inspector> {
    let url: string | undefined;
    await waitFor(async () => {
      url = /Debugger listening on (ws:\/\/\S+)/.exec(p.stderr.join(''))?.[1];
      return url !== undefined;
    }, 30_000, 'the inspector URL');
    const ws = new WebSocket(url!, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Inspector(ws);
  }

  private command<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onMessage = (raw: Buffer) => {
        const msg = JSON.parse(raw.toString()) as { id?: number; result?: T; error?: { message: string } };
        if (msg.id !== id) return;
        this.ws.off('message', onMessage);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result as T);
      };
      this.ws.on('message', onMessage);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Full GC (twice: the first may only queue finalizers), then the process's memory. */
  async memory(pid: number): Promise<MemorySample> {
    await this.command('HeapProfiler.collectGarbage');
    await sleep(200);
    await this.command('HeapProfiler.collectGarbage');
    const r = await this.command<{ result: { value: string } }>('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    const usage = JSON.parse(r.result.value) as { heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
    return { rss: await settledRss(pid), heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external };
  }

  close(): void {
    this.ws.close();
  }
}
