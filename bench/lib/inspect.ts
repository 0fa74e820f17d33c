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
  external: number;
}

/**
 * The process's RSS once it stops falling: memory freed by a collection goes back to the
 * system a little later (V8's memory reducer, in the background), and one run's W1 read its
 * first point before that and its slope as negative. Polled every 250 ms until two readings
 * are within 1 MiB (or `maxMs` passed).
 */
export async function settledRss(pid: number, maxMs = 5000, read: (pid: number) => number = rssBytes): Promise<number> {
  const deadline = performance.now() + maxMs;
  let last = read(pid);
  for (;;) {
    await sleep(250);
    const now = read(pid);
    if (Math.abs(now - last) < 1024 * 1024 || performance.now() > deadline) return now;
    last = now;
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
    const usage = JSON.parse(r.result.value) as { heapUsed: number; external: number; arrayBuffers: number };
    return { rss: await settledRss(pid), heapUsed: usage.heapUsed, external: usage.external };
  }

  close(): void {
    this.ws.close();
  }
}
