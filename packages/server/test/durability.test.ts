/**
 * Acked means durable: the REAL server process is killed with SIGKILL in the middle of a
 * concurrent load, restarted on the same data, and every acked message must be there
 * exactly once, with no gap in seq, and retrying the in-flight sends must be idempotent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Api, DIALECTS, freshStorage, plainText } from './harness.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
  output: () => string;
}

async function startProcess(env: Record<string, string>, api: Api): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, PARLEY_LOG_LEVEL: 'warn', PARLEY_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${out}`);
    try {
      if ((await api.get('/v1/health')).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, exited, output: () => out };
}

for (const dialect of DIALECTS) {
  describe(`durability across a crash [${dialect}]`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => {});
    });

    /** `parley serve` as its own process on fresh storage; `kill` is SIGKILL, `start` runs it again on the same data. */
    async function crashable() {
      const storage = await freshStorage(dialect);
      cleanups.push(storage.drop);
      const port = await freePort();
      const env: Record<string, string> = { PARLEY_PORT: String(port), PARLEY_DATA_DIR: storage.dataDir, PARLEY_SENDS_PER_MINUTE: '1000000' };
      if (storage.databaseUrl) env.DATABASE_URL = storage.databaseUrl;
      const api = new Api(`http://127.0.0.1:${port}`);
      let proc = await startProcess(env, api);
      const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
        proc.child.kill(signal);
        await proc.exited;
      };
      cleanups.push(kill);
      return {
        api,
        kill,
        start: async () => {
          proc = await startProcess(env, api);
        },
      };
    }

    /** A crashable server with two connected users `a` and `b` and their direct conversation. */
    async function crashableWithPair(prefix: string) {
      const server = await crashable();
      const { api } = server;
      const a = await api.signUp(`${prefix}_a`);
      const b = await api.signUp(`${prefix}_b`);
      await api.connect(a, b);
      const conv = (await api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).body.id as string;
      return { server, api, a, b, conv };
    }

    it('every acked message survives kill -9 exactly once, gap-free, and retries are idempotent', { timeout: 180_000 }, async () => {
      const { server, api, a, b, conv } = await crashableWithPair('crash');

      const acked = new Map<string, { id: string; seq: number; createdAt: string; token: string }>();
      const inflight = new Map<string, string>();
      let killed = false;
      let counter = 0;
      // A worker sends until a request fails: answers already on their way when the kill
      // lands are taken as acks, and the request after them cannot be answered, so every
      // worker ends with a send in flight whether or not the kill caught one in the server.
      const worker = async (token: string, name: string) => {
        for (;;) {
          const clientId = `${name}-${counter++}`;
          inflight.set(clientId, token);
          try {
            const res = await api.post(`/v1/conversations/${conv}/messages`, { clientId, kind: 'message', content: plainText(clientId) }, token);
            if (res.status === 201) {
              acked.set(clientId, { ...res.body, token });
              inflight.delete(clientId);
            } else if (killed) return;
            else throw new Error(`unexpected ${res.status} ${JSON.stringify(res.body)}`);
          } catch (err) {
            if (!killed) throw err;
            return;
          }
        }
      };
      const workers = Array.from({ length: 12 }, (_, i) => worker(i % 2 ? a.token : b.token, `w${i}`));
      while (acked.size < 300) await new Promise((r) => setTimeout(r, 5));
      killed = true;
      await server.kill();
      await Promise.allSettled(workers);
      expect(acked.size).toBeGreaterThanOrEqual(300);
      // Every worker's last send never saw an answer.
      expect(inflight.size).toBeGreaterThanOrEqual(12);

      await server.start();
      const history: any[] = [];
      for (let after = 0; ; ) {
        const res = await api.get(`/v1/conversations/${conv}/messages?after=${after}&limit=200`, a.token);
        expect(res.status).toBe(200);
        if (res.body.messages.length === 0) break;
        history.push(...res.body.messages);
        after = res.body.messages.at(-1).seq;
      }
      // Gap-free from 1, and lastSeq agrees.
      expect(history.map((m) => m.seq)).toEqual(Array.from({ length: history.length }, (_, i) => i + 1));
      expect((await api.get(`/v1/conversations/${conv}`, a.token)).body.lastSeq).toBe(history.length);
      // Every acked message is there exactly once, as acked.
      const byClient = new Map<string, any[]>();
      for (const m of history) byClient.set(m.clientId, [...(byClient.get(m.clientId) ?? []), m]);
      for (const [clientId, ack] of acked) {
        const found = byClient.get(clientId);
        expect(found, clientId).toHaveLength(1);
        expect(found![0]).toMatchObject({ id: ack.id, seq: ack.seq, createdAt: ack.createdAt, content: plainText(clientId) });
      }
      // Retrying acked sends replays their ack; retrying the in-flight ones is idempotent too.
      for (const [clientId, ack] of [...acked].slice(-20)) {
        const res = await api.post(`/v1/conversations/${conv}/messages`, { clientId, kind: 'message', content: plainText(clientId) }, ack.token);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ id: ack.id, seq: ack.seq, createdAt: ack.createdAt });
      }
      const retried = await Promise.all(
        [...inflight].map(async ([clientId, token]) => {
          const first = await api.post(`/v1/conversations/${conv}/messages`, { clientId, kind: 'message', content: plainText(clientId) }, token);
          const second = await api.post(`/v1/conversations/${conv}/messages`, { clientId, kind: 'message', content: plainText(clientId) }, token);
          expect([200, 201]).toContain(first.status);
          expect(second.status).toBe(200);
          expect(second.body).toEqual(first.body);
          // Committed before the crash without an ack: the retry finds it rather than sending again.
          if (byClient.has(clientId)) expect(first.status).toBe(200);
          return first.body.seq as number;
        }),
      );
      const final: any[] = [];
      for (let after = 0; ; ) {
        const res = await api.get(`/v1/conversations/${conv}/messages?after=${after}&limit=200`, a.token);
        if (res.body.messages.length === 0) break;
        final.push(...res.body.messages);
        after = res.body.messages.at(-1).seq;
      }
      expect(final.map((m) => m.seq)).toEqual(Array.from({ length: final.length }, (_, i) => i + 1));
      expect(new Set(final.map((m) => m.clientId)).size).toBe(final.length);
      for (const seq of retried) expect(seq).toBeLessThanOrEqual(final.length);
      await server.kill('SIGTERM');
    });

    // Markers commit outside the send path's batches (Database.write): acked must mean
    // durable there too, though their fsync no longer runs on the event loop.
    it('every acked read marker survives kill -9', { timeout: 180_000 }, async () => {
      const { server, api, a, b, conv } = await crashableWithPair('mark');
      const total = 1000;
      let next = 0;
      const sender = async () => {
        while (next < total) {
          next++;
          await api.send(a, conv);
        }
      };
      await Promise.all(Array.from({ length: 8 }, sender));

      // b reads on, a seq at a time from several requests at once, until the kill.
      let acked = 0;
      let killed = false;
      let seq = 0;
      const reader = async () => {
        while (seq < total) {
          const want = ++seq;
          try {
            const res = await api.post(`/v1/conversations/${conv}/read`, { seq: want }, b.token);
            if (res.status !== 200) throw new Error(`read marker: ${res.status} ${JSON.stringify(res.body)}`);
            acked = Math.max(acked, res.body.seq as number);
          } catch (err) {
            if (killed) return;
            throw err;
          }
        }
      };
      const readers = Array.from({ length: 6 }, reader);
      while (acked < 200) await new Promise((r) => setTimeout(r, 2));
      killed = true;
      await server.kill();
      await Promise.allSettled(readers);
      expect(acked).toBeGreaterThanOrEqual(200);
      expect(acked).toBeLessThan(total);

      await server.start();
      // Asking to move it to 0 answers where it stands.
      const stands = await api.post(`/v1/conversations/${conv}/read`, { seq: 0 }, b.token);
      expect(stands.status).toBe(200);
      expect(stands.body.seq).toBeGreaterThanOrEqual(acked);
      expect((await api.get(`/v1/conversations/${conv}`, b.token)).body.unreadCount).toBe(total - stands.body.seq);
      await server.kill('SIGTERM');
    });
  });
}
