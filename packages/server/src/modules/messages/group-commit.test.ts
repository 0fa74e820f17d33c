import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../storage/db.ts';
import { GroupCommit } from './group-commit.ts';

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
    const gc = new GroupCommit({
      transact: (fn) => {
        transactions++;
        return database.db.transaction().execute((trx) => fn(trx, new Date().toISOString(), Date.now()));
      },
      maxInFlight: 1,
      windowMs: 2,
      maxBatch: 100,
    });
    const insert = (k: string) => gc.submit(k, async (trx) => {
      await trx.insertInto('t' as never).values({ k } as never).execute();
      return k;
    });
    const results = await Promise.allSettled([insert('a'), insert('b'), insert('a'), insert('c')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(database.isUniqueViolation((results[2] as PromiseRejectedResult).reason)).toBe(true);
    expect(transactions).toBe(1);
    const rows = await sql<{ k: string }>`select k from t order by k`.execute(database.db);
    expect(rows.rows.map((r) => r.k)).toEqual(['a', 'b', 'c']);
    await gc.close();
    await expect(insert('d')).rejects.toThrow(/shutting down/);
  });

  it('when the batch transaction itself fails, each job gets its own chance', async () => {
    let calls = 0;
    const gc = new GroupCommit({
      transact: async (fn) => {
        calls++;
        // The first, shared transaction fails at commit; the solo retries succeed.
        if (calls === 1) {
          await database.db.transaction().execute(async (trx) => {
            await fn(trx, new Date().toISOString(), Date.now());
            throw new Error('commit failed');
          });
        }
        return database.db.transaction().execute((trx) => fn(trx, new Date().toISOString(), Date.now()));
      },
      maxInFlight: 1,
      windowMs: 2,
      maxBatch: 100,
    });
    const ok = await Promise.all(['x', 'y'].map((k) => gc.submit(k, async (trx) => (await trx.insertInto('t' as never).values({ k } as never).execute(), k))));
    expect(ok).toEqual(['x', 'y']);
    expect(calls).toBe(3);
    await gc.close();
  });
});
