import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, precompile, type Database, type DB } from '../db.ts';
import { syncReaderOf } from '../sync-reads.ts';
import { Checkpointer, WAL_KEPT_BYTES, WAL_RESTART_BYTES } from './checkpointer.ts';

type T = { kv: { k: string; v: string } };
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('SQLite: shared reads and synchronous precompiled reads', () => {
  let dir: string;
  let database: Database;
  let raw: SQLite.Database;
  let db: Kysely<T>;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'parley-sqlite-'));
    database = await openDatabase({ dataDir: dir, durability: 'full' });
    raw = database.raw as SQLite.Database;
    db = database.db as unknown as Kysely<T>;
    await sql`create table kv (k text primary key, v text not null)`.execute(database.db);
    await nextTurn();
  });
  afterAll(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const read = (k: string) => db.selectFrom('kv').select('v').where('k', '=', k).executeTakeFirst();

  it('a read outside a transaction opens a shared read transaction that ends with the turn of the event loop', async () => {
    expect(raw.inTransaction).toBe(false);
    await read('none');
    // Same turn: still open, and further reads join it.
    expect(raw.inTransaction).toBe(true);
    await read('none');
    expect(raw.inTransaction).toBe(true);
    await nextTurn();
    expect(raw.inTransaction).toBe(false);
  });

  it('a write right after reads in the same turn commits on its own, and later reads see it', async () => {
    expect(await read('a')).toBeUndefined();
    await db.insertInto('kv').values({ k: 'a', v: '1' }).execute();
    // The write ended the shared read: it is committed now, not at the end of the turn.
    expect(raw.inTransaction).toBe(false);
    expect(await read('a')).toEqual({ v: '1' });
    // `insert … returning` reads rows but writes: it runs as a write and returns its rows.
    await read('a');
    const returned = await db.insertInto('kv').values({ k: 'b', v: '2' }).returning(['k', 'v']).execute();
    expect(returned).toEqual([{ k: 'b', v: '2' }]);
    expect(raw.inTransaction).toBe(false);
    // A transaction started after reads of the same turn works as usual.
    await read('b');
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('kv').set({ v: '3' }).where('k', '=', 'b').execute();
    });
    expect(await read('b')).toEqual({ v: '3' });
    await nextTurn();
  });

  it('never holds a snapshot past the turn: another connection’s commit is seen from the next turn on', async () => {
    const other = new SQLite(path.join(dir, 'parley.db'));
    try {
      other.pragma('busy_timeout = 5000');
      expect(await read('ext')).toBeUndefined();
      await nextTurn();
      other.prepare("insert into kv (k, v) values ('ext', 'x')").run();
      expect(await read('ext')).toEqual({ v: 'x' });
    } finally {
      other.close();
      await nextTurn();
    }
  });

  it('a streaming read keeps the synchronous reader off the connection until it ends', async () => {
    const seen: (unknown[] | undefined)[] = [];
    for await (const row of db.selectFrom('kv').select('k').stream()) {
      void row;
      seen.push(syncReaderOf(database.db)!('select 1 as x', []));
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r === undefined)).toBe(true);
    expect(syncReaderOf(database.db)!('select 1 as x', [])).toEqual([{ x: 1 }]);
    await nextTurn();
  });

  it('precompiled reads run at once on a free connection, and wait for a transaction that holds it', async () => {
    const byKey = precompile(1, (k: string) => db.selectFrom('kv').select('v').where('k', '=', k));
    const run = (k: string) => byKey(database.db as unknown as Kysely<DB>, k) as Promise<{ v: string }[]>;
    expect(syncReaderOf(database.db)).toBeDefined();
    expect(await run('a')).toEqual([{ v: '1' }]);

    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const trx = db.transaction().execute(async (t) => {
      await t.updateTable('kv').set({ v: 'uncommitted' }).where('k', '=', 'a').execute();
      inside();
      await held;
      await t.updateTable('kv').set({ v: '1' }).where('k', '=', 'a').execute();
    });
    await entered;
    // The transaction holds the connection: the synchronous reader declines, and the query
    // waits for the transaction rather than reading its uncommitted write.
    expect(syncReaderOf(database.db)!('select 1 as x', [])).toBeUndefined();
    const during = run('a');
    release();
    await trx;
    expect(await during).toEqual([{ v: '1' }]);
  });
});

describe('SQLite: the connection lock', () => {
  it('hands the one connection to waiting transactions one at a time, first come first served', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-lock-'));
    const database = await openDatabase({ dataDir: dir, durability: 'normal' });
    try {
      const events: string[] = [];
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          database.db.transaction().execute(async (trx) => {
            events.push(`in ${i}`);
            await sql`select ${i} as x`.execute(trx);
            await new Promise((resolve) => setImmediate(resolve));
            events.push(`out ${i}`);
          }),
        ),
      );
      expect(events).toEqual(Array.from({ length: 50 }, (_, i) => [`in ${i}`, `out ${i}`]).flat());
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SQLite: checkpoints in a worker', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'parley-checkpoint-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a checkpoint copies the whole WAL into the database file, off the event loop', async () => {
    const file = path.join(dir, 'unit.db');
    const db = new SQLite(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${WAL_KEPT_BYTES}`);
    db.exec('create table big (v text)');
    const checkpointer = new Checkpointer(file, { thresholdBytes: 64 * 1024 });
    try {
      const insert = db.prepare('insert into big (v) values (?)');
      db.transaction(() => {
        for (let i = 0; i < 200; i++) insert.run('x'.repeat(1000));
      })();
      expect(statSync(file).size).toBeLessThan(64 * 1024);
      const result = await checkpointer.now();
      expect(result.log).toBeGreaterThan(0);
      expect(result.checkpointed).toBe(result.log);
      expect(statSync(file).size).toBeGreaterThan(200 * 1000);
      // The next commit starts the WAL again from its start; the file keeps its size (it is
      // overwritten from there), yet no checkpoint is due: what is due is not the file's size.
      const walSize = statSync(`${file}-wal`).size;
      insert.run('small');
      expect(statSync(`${file}-wal`).size).toBe(walSize);
      expect(checkpointer.backlogBytes()).toBeLessThan(64 * 1024);
      await new Promise((resolve) => setTimeout(resolve, 150));
      checkpointer.maybe();
      expect(checkpointer.busy).toBe(false);
      // Past the threshold again: one starts.
      db.transaction(() => {
        for (let i = 0; i < 200; i++) insert.run('x'.repeat(1000));
      })();
      checkpointer.maybe();
      expect(checkpointer.busy).toBe(true);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it('the server’s connection never checkpoints on its own; its batches past the threshold get one', async () => {
    const database = await openDatabase({ dataDir: path.join(dir, 'server'), durability: 'full' });
    try {
      const raw = database.raw as SQLite.Database;
      expect(raw.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      await sql`create table big (v text)`.execute(database.db);
      const file = path.join(dir, 'server', 'parley.db');
      const before = statSync(file).size;
      // ~5 MB of WAL through the send path's commit, past the 4 MB threshold.
      for (let b = 0; b < 10; b++) {
        const { durable } = await database.commitBatch(async (trx) => {
          for (let i = 0; i < 50; i++) await sql`insert into big (v) values (${'y'.repeat(10_000)})`.execute(trx);
        });
        await durable;
      }
      await expect.poll(() => statSync(file).size, { timeout: 10_000 }).toBeGreaterThan(before + 4_000_000);
      const { n } = (await sql<{ n: number }>`select count(*) as n from big`.execute(database.db)).rows[0]!;
      expect(n).toBe(500);
    } finally {
      await database.close();
    }
  });

  it('under batches that never pause, the WAL restarts from its start once past its restart point and stays that size', async () => {
    const dataDir = path.join(dir, 'steady');
    const database = await openDatabase({ dataDir, durability: 'full' });
    const wal = path.join(dataDir, 'parley.db-wal');
    try {
      await sql`create table big (v text)`.execute(database.db);
      let largest = 0;
      let restarted = false;
      let last = 0;
      // ~1.5 × the restart point, each batch starting as soon as the one before is durable.
      const batches = Math.ceil((1.5 * WAL_RESTART_BYTES) / (50 * 10_000));
      for (let b = 0; b < batches; b++) {
        const { durable } = await database.commitBatch(async (trx) => {
          for (let i = 0; i < 50; i++) await sql`insert into big (v) values (${'z'.repeat(10_000)})`.execute(trx);
        });
        await durable;
        const size = statSync(wal).size;
        if (size === last) restarted = true;
        last = size;
        largest = Math.max(largest, size);
      }
      expect(restarted).toBe(true);
      expect(largest).toBeLessThan(WAL_RESTART_BYTES + 2_000_000);
      const { n } = (await sql<{ n: number }>`select count(*) as n from big`.execute(database.db)).rows[0]!;
      expect(n).toBe(batches * 50);
    } finally {
      await database.close();
    }
  });

  it('a write (not a batch) resolves once the WAL is synced, and the event loop runs during the sync', async () => {
    const database = await openDatabase({ dataDir: path.join(dir, 'writes'), durability: 'full' });
    // Every fdatasync of a FileHandle waits for the test's word (the WAL's sync goes through one).
    const probe = await open(path.join(dir, 'writes', 'parley.db'), 'r');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const datasync = proto.datasync;
    let release!: () => void;
    const go = new Promise<void>((resolve) => (release = resolve));
    let syncs = 0;
    proto.datasync = async function (this: FileHandle) {
      syncs++;
      await go;
      return datasync.call(this);
    };
    try {
      await sql`create table marks (v integer)`.execute(database.db);
      let done = false;
      const write = database.write((trx) => sql`insert into marks (v) values (1)`.execute(trx)).then(() => (done = true));
      // Committed (another connection sees it) and waiting for its sync; timers still fire.
      await expect.poll(() => syncs).toBe(1);
      let ticks = 0;
      for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 2)).then(() => ticks++);
      expect(ticks).toBe(5);
      expect(done).toBe(false);
      const other = new SQLite(path.join(dir, 'writes', 'parley.db'), { readonly: true });
      expect(other.prepare('select count(*) as n from marks').get()).toEqual({ n: 1 });
      other.close();
      release();
      await write;
      expect(done).toBe(true);
    } finally {
      proto.datasync = datasync;
      release();
      await database.close();
    }
  });
});
