import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** WAL size that starts a checkpoint: SQLite's own default, 1,000 pages of 4 KiB. */
export const CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024;

/** Least time between two checkpoints started by `maybe`. */
const RETRY_MS = 100;

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
 * this one checks the WAL's size after writes and has a second connection, in a worker,
 * checkpoint it (PASSIVE: it never blocks the writer). SQLite restarts the WAL from its
 * start at the first commit after a complete checkpoint, as it does on its own; the
 * server's connection sets `journal_size_limit = 0` so that the restart also cuts the file
 * back, and its size keeps meaning "not yet checkpointed".
 */
export class Checkpointer {
  private readonly worker: Worker;
  private running: Promise<CheckpointResult> | null = null;
  private closed = false;
  private lastDone = -Infinity;
  private readonly waiting: ((r: { ok: boolean; log?: number; checkpointed?: number; message?: string }) => void)[] = [];

  constructor(
    private readonly file: string,
    private readonly thresholdBytes = CHECKPOINT_WAL_BYTES,
    onError: (err: Error) => void = () => {},
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    // No inherited node options: the worker runs plain CommonJS (no TypeScript loader) and is
    // not profiled (`--cpu-prof` would give it a sampling thread of its own, busy even while idle).
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver }, execArgv: [] });
    this.worker.on('message', (r) => this.waiting.shift()?.(r));
    // A worker that dies leaves checkpoints to the caller (`onError`: SQLite's automatic ones).
    const died = (err: Error) => {
      if (this.closed) return;
      this.closed = true;
      for (const w of this.waiting.splice(0)) w({ ok: false, message: err.message });
      onError(err);
    };
    this.worker.on('error', died);
    this.worker.on('exit', (code) => died(new Error(`checkpoint worker exited (${code})`)));
    this.worker.unref();
  }

  /**
   * After a write: checkpoint if the WAL has grown past the threshold and none is running
   * (nor ran in the last moment: one that could not copy everything, because a reader
   * still used the WAL, is retried a little later, not after every write).
   */
  maybe(): void {
    if (this.running || this.closed || performance.now() - this.lastDone < RETRY_MS) return;
    const size = statSync(`${this.file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    if (size < this.thresholdBytes) return;
    void this.now().catch(() => {});
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
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Referenced again: a process whose last work is this close must wait for the worker.
    this.worker.ref();
    this.worker.postMessage('close');
    await exited;
  }
}
