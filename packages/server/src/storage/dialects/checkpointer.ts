import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** WAL not yet checkpointed that starts a checkpoint: SQLite's own default, 1,000 pages of 4 KiB. */
export const CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024;

/**
 * Where in the WAL file the writer waits for a complete checkpoint, so that its next
 * transaction starts the WAL again from the file's start (`beforeWrite`). Without it, a
 * writer that never pauses keeps every checkpoint a little behind and the WAL grows for as
 * long as the load lasts (570 MB in ten seconds of W2), appending to fresh blocks.
 */
export const WAL_RESTART_BYTES = 4 * CHECKPOINT_WAL_BYTES;

/**
 * The server connection's `journal_size_limit`: once a complete checkpoint restarts the WAL,
 * the file keeps up to this size and is overwritten in place (far cheaper for the kernel
 * than appending: no block to allocate, no page to zero, no file size for the fdatasync to
 * write); it is cut back, inside that commit, only after it grew past it (a reader kept the
 * checkpoints from completing).
 */
export const WAL_KEPT_BYTES = 16 * CHECKPOINT_WAL_BYTES;

/** Least time between two checkpoints started by `maybe`. */
const RETRY_MS = 100;

/** After a restart that could not be had (a reader held the WAL), how long `beforeWrite` lets writes go on. */
const RESTART_RETRY_MS = 1000;

/**
 * The worker: its own connection to the same file, running PASSIVE checkpoints on request.
 * Plain CommonJS (no TypeScript loader in a worker started from a string).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.file);
db.pragma('busy_timeout = 5000');
parentPort.on('message', (msg) => {
  if (msg === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, log: row.log, checkpointed: row.checkpointed });
  } catch (err) {
    parentPort.postMessage({ ok: false, message: String(err && err.message) });
  }
});
`;

/** The wal-index's version field (SQLite's WALINDEX_MAX_VERSION, unchanged since 3.7.0). */
const WAL_INDEX_VERSION = 3007000;
/** What `readWalState` reads of the wal-index: both header copies and nBackfill. */
export const WAL_INDEX_HEAD_BYTES = 100;

/** What the head of the wal-index says of the WAL, in bytes. */
export interface WalState {
  /** Where the WAL's valid frames end: the next commit writes from here. */
  end: number;
  /** Of those, the bytes a checkpoint has not yet copied into the database file. */
  backlog: number;
}

/**
 * The WAL's state from the head of the wal-index (the `-shm` file every connection to the
 * database maps): the WAL's valid frames end at `mxFrame`, and a checkpoint has copied the
 * first `nBackfill` of them. The layout is SQLite's documented one
 * (https://sqlite.org/walformat.html): two copies of a 48-byte header (the page size at 14,
 * `mxFrame` at 16), then the checkpoint information (`nBackfill` at 96), in the machine's
 * byte order. null when the head does not read as an initialised wal-index whose two copies
 * agree (they differ only while a writer changes them).
 */
export function readWalState(head: Buffer, le = endianness() === 'LE'): WalState | null {
  if (head.length < WAL_INDEX_HEAD_BYTES) return null;
  const u32 = (at: number) => (le ? head.readUInt32LE(at) : head.readUInt32BE(at));
  const u16 = (at: number) => (le ? head.readUInt16LE(at) : head.readUInt16BE(at));
  if (u32(0) !== WAL_INDEX_VERSION || head[12] !== 1) return null;
  if (!head.subarray(0, 48).equals(head.subarray(48, 96))) return null;
  const raw = u16(14);
  const pageSize = raw === 1 ? 65536 : raw;
  const mxFrame = u32(16);
  const nBackfill = u32(96);
  if (pageSize < 512 || nBackfill > mxFrame) return null;
  // A 32-byte file header, then frames of a 24-byte frame header and one page.
  const frame = pageSize + 24;
  return { end: mxFrame === 0 ? 0 : 32 + mxFrame * frame, backlog: (mxFrame - nBackfill) * frame };
}

export interface CheckpointResult {
  /** Frames in the WAL, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
}

/**
 * WAL checkpoints in a worker thread instead of inside a commit on the event loop. SQLite's
 * automatic checkpoint runs in whichever COMMIT pushes the WAL past 1,000 pages: it copies
 * the WAL into the database file and fsyncs both, stopping every socket of the server for
 * that long (the send path's p99). With `wal_autocheckpoint = 0` on the server's connection,
 * this one reads the WAL's state after writes and has a second connection, in a worker,
 * checkpoint it (PASSIVE: it never blocks the writer).
 *
 * SQLite starts the WAL again from the file's start at the first commit after a complete
 * checkpoint, and overwrites the file in place from there (up to `WAL_KEPT_BYTES`, the
 * server connection's `journal_size_limit`). A checkpoint is complete only if no commit came
 * while it ran, which under a steady load never happens by itself: once the WAL reaches
 * `WAL_RESTART_BYTES`, the writer asks `beforeWrite` and waits for one.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private running: Promise<CheckpointResult> | null = null;
  private closed = false;
  private lastDone = -Infinity;
  private restartNotBefore = -Infinity;
  private readonly waiting: ((r: { ok: boolean; log?: number; checkpointed?: number; message?: string }) => void)[] = [];
  /** The wal-index file, opened at the first `maybe`, and a buffer for its head. */
  private shm: number | null = null;
  private readonly head = Buffer.alloc(WAL_INDEX_HEAD_BYTES);

  private readonly thresholdBytes: number;
  private readonly restartBytes: number;

  /**
   * `thresholdBytes`: the WAL not yet checkpointed that starts a checkpoint; `restartBytes`:
   * where the writer waits for a complete one; `onError`: the worker died (checkpoints are
   * then the caller's).
   */
  constructor(
    private readonly file: string,
    options: { thresholdBytes?: number; restartBytes?: number; onError?: (err: Error) => void } = {},
  ) {
    this.thresholdBytes = options.thresholdBytes ?? CHECKPOINT_WAL_BYTES;
    this.restartBytes = options.restartBytes ?? WAL_RESTART_BYTES;
    const onError = options.onError ?? (() => {});
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    // No inherited node options: the worker runs plain CommonJS (no TypeScript loader) and is
    // not profiled (`--cpu-prof` would give it a sampling thread of its own, busy even while idle).
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver }, execArgv: [] });
    this.worker.on('message', (r) => this.waiting.shift()?.(r));
    // A worker that dies leaves checkpoints to the caller (`onError`: SQLite's automatic ones).
    const died = (err: Error) => {
      if (this.closed) return;
      this.closed = true;
      this.closeShm();
      for (const w of this.waiting.splice(0)) w({ ok: false, message: err.message });
      onError(err);
    };
    this.worker.on('error', died);
    this.worker.on('exit', (code) => died(new Error(`checkpoint worker exited (${code})`)));
    this.worker.unref();
  }

  /**
   * After a write: checkpoint if what the WAL holds beyond the database file has grown past
   * the threshold and none is running (nor ran in the last moment: one that could not copy
   * everything, because a reader still used the WAL, is retried a little later, not after
   * every write).
   */
  maybe(): void {
    if (this.running || this.closed || performance.now() - this.lastDone < RETRY_MS) return;
    if (this.backlogBytes() < this.thresholdBytes) return;
    void this.now().catch(() => {});
  }

  /**
   * Before the writer's next transaction: once the WAL reaches `restartBytes`, wait for a
   * checkpoint that copies all of it (the one running, then, since commits came while it
   * ran, one more while the writer waits), so that the transaction starts the WAL again
   * from the file's start. Complete means nothing left in the wal-index after it, not the
   * checkpoint's own count: that covers only the frames there were when it started, and
   * other writes (outside the batches) may commit while this one waits. A checkpoint that
   * cannot complete (another connection reads an older snapshot) is not waited for again
   * for a while.
   */
  async beforeWrite(): Promise<void> {
    if (this.closed || performance.now() < this.restartNotBefore) return;
    const wal = this.walState();
    if (!wal || wal.end < this.restartBytes) return;
    for (let attempt = 0; attempt < 2; attempt++) {
      const done = await this.now().catch(() => null);
      const after = this.walState();
      if (after ? after.backlog === 0 : done !== null && done.checkpointed >= done.log) return;
    }
    this.restartNotBefore = performance.now() + RESTART_RETRY_MS;
  }

  /**
   * The WAL's bytes not yet checkpointed, from the wal-index (the WAL file keeps its size
   * once checkpointed, so its size says only how large it once grew); the WAL file's size
   * when the wal-index cannot be read.
   */
  backlogBytes(): number {
    return this.walState()?.backlog ?? statSync(`${this.file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  }

  /** The WAL's state from the wal-index; null while it cannot be read. */
  walState(): WalState | null {
    const head = this.readWalIndexHead();
    return head ? readWalState(head) : null;
  }

  private readWalIndexHead(): Buffer | null {
    try {
      // Open while the database is: SQLite removes the file when its last connection
      // closes (the worker's stays open as long as this checkpointer).
      if (this.shm === null) this.shm = openSync(`${this.file}-shm`, 'r');
      const n = readSync(this.shm, this.head, 0, WAL_INDEX_HEAD_BYTES, 0);
      return n === WAL_INDEX_HEAD_BYTES ? this.head : null;
    } catch {
      this.closeShm();
      return null;
    }
  }

  private closeShm(): void {
    if (this.shm === null) return;
    try {
      closeSync(this.shm);
    } catch {
      // Already gone: nothing to give back.
    }
    this.shm = null;
  }

  /** A checkpoint is running. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Checkpoint now (or join the one running). */
  now(): Promise<CheckpointResult> {
    if (this.running) return this.running;
    if (this.closed) return Promise.reject(new Error('the checkpointer is closed'));
    const run = new Promise<CheckpointResult>((resolve, reject) => {
      this.waiting.push((r) => (r.ok ? resolve({ log: r.log!, checkpointed: r.checkpointed! }) : reject(new Error(`checkpoint failed: ${r.message}`))));
      this.worker.postMessage('checkpoint');
    });
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = null;
      this.lastDone = performance.now();
    };
    run.then(clear, clear);
    return run;
  }

  /** Let a running checkpoint finish, then close the worker's connection (before the server's: its close checkpoints last). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.running?.catch(() => {});
    this.closed = true;
    this.closeShm();
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Referenced again: a process whose last work is this close must wait for the worker.
    this.worker.ref();
    this.worker.postMessage('close');
    await exited;
  }
}
