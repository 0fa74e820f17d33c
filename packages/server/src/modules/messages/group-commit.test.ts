import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../storage/db.ts';
import { GroupCommit, runEach, type JobRun } from './group-commit.ts';

describe('group commit', () => {
  let dir: string;
  let database: Database;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'parley-gc-'));
    database = await openDatabase({ dataDir: dir, durability: 'full' });
    await sql`create table t (k text primary key)`.execute(database.db);
  });
  afterAll(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shares one transaction among jobs that arrive together; a failing job fails alone', async () => {
    let transactions = 0;
    const gc = new GroupCommit<JobRun<unknown>>({
      transact: (_lane, fn) => {
        transactions++;
        return database.commitBatch((trx) => fn(trx, new Date().toISOString(), Date.now()));
      },
      run: runEach(),
      lanes: 1,
      windowMs: 2,
      maxBatch: 100,
    });
    const insert = (k: string) =>
      gc.submit<string>(k, async (trx) => {
        await trx.insertInto('t' as never).values({ k } as never).execute();
        return k;
      });
    const results = await Promise.allSettled([insert('a'), insert('b'), insert('a'), insert('c')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(database.isUniqueViolation((results[2] as PromiseRejectedResult).reason)).toBe(true);
    // The shared transaction failed on the duplicate and rolled back whole; then each alone.
    expect(transactions).toBe(5);
    const rows = await sql<{ k: string }>`select k from t order by k`.execute(database.db);
    expect(rows.rows.map((r) => r.k)).toEqual(['a', 'b', 'c']);
    await gc.close();
    await expect(insert('d')).rejects.toThrow(/shutting down/);
  });

  it('commits jobs that arrive together in one transaction; an outcome may fail one job without failing the batch', async () => {
    let transactions = 0;
    const gc = new GroupCommit<string>({
      transact: (_lane, fn) => {
        transactions++;
        return database.commitBatch((trx) => fn(trx, new Date().toISOString(), Date.now()));
      },
      // A job refused before it writes anything is answered alone; the others commit together.
      run: async (trx, _stamp, _ms, keys) => {
        const out = [];
        for (const k of keys) {
          if (k.startsWith('bad')) {
            out.push({ ok: false as const, err: new Error(`refused ${k}`) });
            continue;
          }
          await trx.insertInto('t' as never).values({ k } as never).execute();
          out.push({ ok: true as const, value: k });
        }
        return out;
      },
      lanes: 1,
      windowMs: 2,
      maxBatch: 100,
    });
    const results = await Promise.allSettled(['p', 'bad-1', 'q', 'r'].map((k) => gc.submit(k, k)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(transactions).toBe(1);
    await gc.close();
  });

  it('keeps the submission order of each key across lanes, and a full batch does not wait', async () => {
    const order = new Map<string, number[]>();
    let batches = 0;
    const gc = new GroupCommit<{ key: string; n: number }>({
      transact: (_lane, fn) => database.commitBatch((trx) => fn(trx, new Date().toISOString(), Date.now())),
      run: async (_trx, _stamp, _ms, jobs) => {
        batches++;
        for (const j of jobs) order.set(j.key, [...(order.get(j.key) ?? []), j.n]);
        return jobs.map((j) => ({ ok: true as const, value: j.n }));
      },
      lanes: 4,
      windowMs: 2,
      maxBatch: 8,
    });
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
    const submitted = [];
    for (let n = 0; n < 40; n++) for (const key of keys) submitted.push(gc.submit(key, { key, n }));
    await Promise.all(submitted);
    for (const key of keys) expect(order.get(key)).toEqual(Array.from({ length: 40 }, (_, n) => n));
    expect(batches).toBeGreaterThanOrEqual(Math.ceil(200 / 8));
    await gc.close();
  });

  /** A group commit of plain keys whose commits touch nothing (what is tested is when batches go). */
  const batching = (windowMs: number, batches: string[][]) =>
    new GroupCommit<string>({
      transact: async (_lane, fn) => ({ value: await fn(undefined as never, new Date().toISOString(), Date.now()), durable: Promise.resolve() }),
      run: async (_trx, _stamp, _ms, keys) => {
        batches.push(keys);
        return keys.map((k) => ({ ok: true as const, value: k }));
      },
      lanes: 1,
      windowMs,
      maxBatch: 1000,
    });

  it('on a quiet lane a send does not wait for the window: no company is coming (what arrives in the same turn still joins it)', async () => {
    const batches: string[][] = [];
    // A window longer than the test may last: waiting for it would fail the test.
    const alone = batching(60_000, batches);
    expect(await alone.submit<string>('alone', 'alone')).toBe('alone');
    const pair = batching(60_000, batches);
    expect(await Promise.all([pair.submit<string>('x', 'x'), pair.submit<string>('y', 'y')])).toEqual(['x', 'y']);
    expect(batches).toEqual([['alone'], ['x', 'y']]);
    await Promise.all([alone.close(), pair.close()]);
  });

  it('under a steady stream of sends (several expected within the window) a batch waits for the window and gathers them', async () => {
    const batches: string[][] = [];
    const gc = batching(20, batches);
    const sent: Promise<string>[] = [];
    // About one send a millisecond for 300 ms: ~20 expected in each 20 ms window.
    await new Promise<void>((resolve) => {
      const started = performance.now();
      const timer = setInterval(() => {
        sent.push(gc.submit<string>('stream', `s${sent.length}`));
        if (performance.now() - started > 300) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    await Promise.all(sent);
    // Going at once, nearly every send would have been a batch of its own.
    expect(batches.length).toBeLessThan(sent.length / 4);
    expect(batches.flat()).toEqual(sent.map((_, i) => `s${i}`));
    await gc.close();
  });

  /** A group commit whose disk syncs the test releases by hand (`syncs`), inserting each key into `t`. */
  const heldSyncs = (windowMs: number) => {
    const syncs: (() => void)[] = [];
    const batches: string[][] = [];
    const gc = new GroupCommit<string>({
      transact: async (_lane, fn) => {
        const { value } = await database.commitBatch((trx) => fn(trx, new Date().toISOString(), Date.now()));
        return { value, durable: new Promise<void>((resolve) => syncs.push(resolve)) };
      },
      run: async (trx, _stamp, _ms, keys) => {
        batches.push(keys);
        for (const k of keys) await trx.insertInto('t' as never).values({ k } as never).execute();
        return keys.map((k) => ({ ok: true as const, value: k }));
      },
      lanes: 1,
      windowMs,
      maxBatch: 100,
    });
    return { gc, syncs, batches };
  };

  it('sends that piled up while a batch committed go as the next batch at once, not after the window: they have company', async () => {
    // A window longer than the test may last: a batch that waited for it would fail the test.
    const { gc, syncs, batches } = heldSyncs(60_000);
    const first = gc.submit<string>('w1', 'w1');
    await expect.poll(() => syncs.length).toBe(1);
    // A steady arrival rate (the window would apply to a lone job) and four jobs waiting.
    await new Promise((resolve) => setTimeout(resolve, 10));
    const waiting = ['w2', 'w3', 'w4', 'w5'].map((k) => gc.submit<string>(k, k));
    syncs[0]!();
    await first;
    await expect.poll(() => syncs.length, { timeout: 2000 }).toBe(2);
    expect(batches).toEqual([['w1'], ['w2', 'w3', 'w4', 'w5']]);
    syncs[1]!();
    expect(await Promise.all(waiting)).toEqual(['w2', 'w3', 'w4', 'w5']);
    await gc.close();
  });

  it('answers a batch only once its commit is durable, and takes the next batch only then (what arrived meanwhile commits together)', async () => {
    const { gc, syncs, batches } = heldSyncs(0);
    const settled: string[] = [];
    const first = gc.submit<string>('d1', 'd1').then((k) => settled.push(k));
    await expect.poll(() => syncs.length).toBe(1);
    // Committed (visible) but not durable: not answered, and the lane waits for that sync.
    const more = ['d2', 'd3'].map((k) => gc.submit<string>(k, k).then((v) => settled.push(v)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const visible = async () => (await sql<{ k: string }>`select k from t where k in ('d1', 'd2', 'd3') order by k`.execute(database.db)).rows.map((r) => r.k);
    expect(await visible()).toEqual(['d1']);
    expect(syncs.length).toBe(1);
    expect(settled).toEqual([]);
    let closed = false;
    const closing = gc.close().then(() => (closed = true));
    syncs[0]!();
    await first;
    expect(settled).toEqual(['d1']);
    // The two that waited commit as one batch.
    await expect.poll(() => syncs.length).toBe(2);
    expect(batches).toEqual([['d1'], ['d2', 'd3']]);
    expect(await visible()).toEqual(['d1', 'd2', 'd3']);
    expect(closed).toBe(false);
    syncs[1]!();
    await Promise.all([...more, closing]);
    expect(settled).toEqual(['d1', 'd2', 'd3']);
  });

  it('SQLite commitBatch: the batch is durable once `durable` settles, and other writes stay at synchronous=FULL', async () => {
    const { value, durable } = await database.commitBatch(async (trx) => {
      await trx.insertInto('t' as never).values({ k: 'wal-1' } as never).execute();
      return 'done';
    });
    expect(value).toBe('done');
    await durable;
    const raw = database.raw as SQLite.Database;
    expect(raw.pragma('synchronous', { simple: true })).toBe(2);
    // Several batches committed before a sync share it.
    const many = await Promise.all(['wal-2', 'wal-3', 'wal-4'].map((k) => database.commitBatch((trx) => trx.insertInto('t' as never).values({ k } as never).execute())));
    await Promise.all(many.map((m) => m.durable));
    const rows = await sql<{ n: number }>`select count(*) as n from t where k like 'wal-%'`.execute(database.db);
    expect(rows.rows[0]!.n).toBe(4);
  });

  it('when the batch transaction itself fails, each job gets its own chance', async () => {
    let calls = 0;
    const gc = new GroupCommit<JobRun<unknown>>({
      transact: async (_lane, fn) => {
        calls++;
        // The first, shared transaction fails at commit; the solo retries succeed.
        if (calls === 1) {
          await database.db.transaction().execute(async (trx) => {
            await fn(trx, new Date().toISOString(), Date.now());
            throw new Error('commit failed');
          });
        }
        return database.commitBatch((trx) => fn(trx, new Date().toISOString(), Date.now()));
      },
      run: runEach(),
      lanes: 1,
      windowMs: 2,
      maxBatch: 100,
    });
    const ok = await Promise.all(['x', 'y'].map((k) => gc.submit(k, async (trx) => (await trx.insertInto('t' as never).values({ k } as never).execute(), k))));
    expect(ok).toEqual(['x', 'y']);
    expect(calls).toBe(3);
    await gc.close();
  });
});
