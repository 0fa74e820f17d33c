import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpointer, readWalState, WAL_INDEX_HEAD_BYTES, type CheckpointResult } from './checkpointer.ts';

const FRAME = 4096 + 24;

/** A database in WAL mode as the server opens it: no automatic checkpoints, the WAL file kept at its size. */
function walDatabase(file: string): SQLite.Database {
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('journal_size_limit = -1');
  db.exec('create table big (v text)');
  return db;
}

/** A wal-index head as SQLite writes it: both header copies, then nBackfill, in the byte order given. */
function walIndexHead(f: { le: boolean; pageSizeField: number; mxFrame: number; nBackfill: number }): Buffer {
  const head = Buffer.alloc(WAL_INDEX_HEAD_BYTES);
  const u32 = (v: number, at: number) => (f.le ? head.writeUInt32LE(v, at) : head.writeUInt32BE(v, at));
  for (const at of [0, 48]) {
    u32(3007000, at);
    head[at + 12] = 1;
    if (f.le) head.writeUInt16LE(f.pageSizeField, at + 14);
    else head.writeUInt16BE(f.pageSizeField, at + 14);
    u32(f.mxFrame, at + 16);
  }
  u32(f.nBackfill, 96);
  return head;
}

const walHead = (file: string) => readFileSync(`${file}-shm`).subarray(0, WAL_INDEX_HEAD_BYTES);
const walSize = (file: string) => statSync(`${file}-wal`).size;

describe('the wal-index head', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'parley-walindex-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says where the WAL ends and how much of it is not checkpointed, as SQLite itself counts', () => {
    const file = path.join(dir, 'state.db');
    const db = walDatabase(file);
    try {
      const insert = db.prepare('insert into big (v) values (?)');
      db.transaction(() => {
        for (let i = 0; i < 100; i++) insert.run('x'.repeat(1000));
      })();
      const before = readWalState(walHead(file))!;
      // Appended so far: the WAL's valid frames end where the file does.
      expect(before.end).toBe(walSize(file));
      expect(before.backlog).toBe(before.end - 32);
      const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
      expect(row!.checkpointed).toBe(row!.log);
      expect(before.backlog).toBe(row!.log * FRAME);
      const after = readWalState(walHead(file))!;
      expect(after).toEqual({ end: before.end, backlog: 0 });
      // The next commit starts the WAL again from the file's start; the file keeps its size.
      insert.run('small');
      const restarted = readWalState(walHead(file))!;
      expect(restarted.end).toBeLessThan(4 * FRAME);
      expect(restarted.backlog).toBe(restarted.end - 32);
      expect(walSize(file)).toBe(before.end);
    } finally {
      db.close();
    }
  });

  it('is not read from a head that is not an initialised wal-index, or whose two copies differ', () => {
    expect(readWalState(Buffer.alloc(WAL_INDEX_HEAD_BYTES))).toBeNull();
    expect(readWalState(Buffer.alloc(10))).toBeNull();
    const head = walIndexHead({ le: true, pageSizeField: 4096, mxFrame: 10, nBackfill: 4 });
    expect(readWalState(head, true)).toEqual({ end: 32 + 10 * FRAME, backlog: 6 * FRAME });
    // A writer is between the two copies: no answer rather than a torn one.
    const torn = Buffer.from(head);
    torn.writeUInt32LE(11, 16);
    expect(readWalState(torn, true)).toBeNull();
    // More checkpointed than written cannot be.
    const odd = Buffer.from(head);
    odd.writeUInt32LE(11, 96);
    expect(readWalState(odd, true)).toBeNull();
    // A big-endian machine writes the same fields the other way round; a page size of 1 means 64 KiB.
    const be = walIndexHead({ le: false, pageSizeField: 1, mxFrame: 3, nBackfill: 0 });
    expect(readWalState(be, false)).toEqual({ end: 32 + 3 * (65536 + 24), backlog: 3 * (65536 + 24) });
    expect(readWalState(be, true)).toBeNull();
  });
});

describe('Checkpointer: the WAL starts again from the file’s start under a writer that never pauses', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'parley-restart-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Transactions of ~40 KiB, each after the writer asked `beforeWrite` (as the server's batches do), with checkpoints as the server starts them. */
  async function writeSteadily(db: SQLite.Database, checkpointer: Checkpointer, transactions: number, onEach: () => void = () => {}) {
    const insert = db.prepare('insert into big (v) values (?)');
    const write = db.transaction(() => {
      for (let i = 0; i < 10; i++) insert.run('y'.repeat(4000));
    });
    for (let t = 0; t < transactions; t++) {
      await checkpointer.beforeWrite();
      write();
      checkpointer.maybe();
      onEach();
      // The writer's turn ends (the server's event loop runs on); nothing waits for the checkpoint.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it('once the WAL reaches the restart point, the next write waits for a complete checkpoint and writes from the start', async () => {
    const file = path.join(dir, 'steady.db');
    const db = walDatabase(file);
    const checkpointer = new Checkpointer(file, { thresholdBytes: 64 * 1024, restartBytes: 256 * 1024 });
    let restarts = 0;
    let lastEnd = 0;
    let largest = 0;
    try {
      await writeSteadily(db, checkpointer, 200, () => {
        const wal = checkpointer.walState()!;
        if (wal.end < lastEnd) restarts++;
        lastEnd = wal.end;
        largest = Math.max(largest, walSize(file));
      });
      // 200 × 40 KiB = 8 MB written through a WAL that never grew much past its restart point.
      expect(restarts).toBeGreaterThanOrEqual(10);
      expect(largest).toBeLessThan(256 * 1024 + 2 * 64 * 1024);
      expect((db.prepare('select count(*) as n from big').get() as { n: number }).n).toBe(2000);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  /** A database past a 128 KiB restart point, its checkpointer, and its checkpoints counted (`around` runs each one). */
  function pastRestartPoint(name: string, around: (checkpoint: () => Promise<CheckpointResult>, n: number) => Promise<CheckpointResult> = (c) => c()) {
    const file = path.join(dir, name);
    const db = walDatabase(file);
    const checkpointer = new Checkpointer(file, { thresholdBytes: 64 * 1024, restartBytes: 128 * 1024 });
    const insert = db.prepare('insert into big (v) values (?)');
    const write = (rows: number) =>
      db.transaction(() => {
        for (let i = 0; i < rows; i++) insert.run('y'.repeat(4000));
      })();
    const counted = { checkpoints: 0 };
    const now = checkpointer.now.bind(checkpointer);
    checkpointer.now = () => around(now, counted.checkpoints++);
    const rows = () => (db.prepare('select count(*) as n from big').get() as { n: number }).n;
    return { db, checkpointer, insert, write, counted, rows };
  }

  it('a checkpoint that counted itself complete while a commit came after it is not taken for a restart: the wal-index decides', async () => {
    // The first: a checkpoint that copied all it saw, before a commit it did not see.
    const { db, checkpointer, insert, write, counted } = pastRestartPoint('raced.db', async (checkpoint, n) => {
      const done = await checkpoint();
      if (n === 0) insert.run('late');
      return done;
    });
    try {
      write(60);
      await checkpointer.beforeWrite();
      expect(counted.checkpoints).toBe(2);
      expect(checkpointer.walState()!.backlog).toBe(0);
      // And so the next commit starts the WAL again from its start.
      insert.run('next');
      expect(checkpointer.walState()!.end).toBeLessThan(4 * FRAME);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it('a reader of an older snapshot keeps the WAL from restarting: the writer does not wait for it again for a while', async () => {
    const { db, checkpointer, write, counted, rows } = pastRestartPoint('pinned.db');
    const reader = new SQLite(path.join(dir, 'pinned.db'), { readonly: true });
    try {
      write(20);
      reader.exec('begin');
      reader.prepare('select count(*) from big').get();
      write(80);
      expect(checkpointer.walState()!.end).toBeGreaterThan(128 * 1024);
      // Past the restart point, but no checkpoint can copy what the reader still reads: two tries.
      await checkpointer.beforeWrite();
      expect(counted.checkpoints).toBe(2);
      expect(checkpointer.walState()!.backlog).toBeGreaterThan(0);
      // The next writes go on at once, without waiting for checkpoints of their own.
      await checkpointer.beforeWrite();
      await checkpointer.beforeWrite();
      expect(counted.checkpoints).toBe(2);
      reader.exec('commit');
      expect(rows()).toBe(100);
    } finally {
      await checkpointer.close();
      reader.close();
      db.close();
    }
  });
});
