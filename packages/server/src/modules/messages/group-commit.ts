import type { Kysely } from 'kysely';
import { AppError } from '../../errors.ts';
import type { DB } from '../../storage/db.ts';

/** Runs writes inside a batch's transaction; `stamp` is the batch's change time. */
export type JobRun<T> = (trx: Kysely<DB>, stamp: string, ms: number) => Promise<T>;

/**
 * What became of one job of a batch. A job may fail on its own only if it wrote nothing
 * (a check made before its first write); a failure after a write must throw instead, which
 * rolls the whole batch back.
 */
export type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

interface Queued<J> {
  key: string;
  job: J;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions<J> {
  /**
   * Opens a batch's transaction on the writer of `lane` (with its change stamp) and commits
   * it; `durable` settles once the commit is on disk. The jobs are answered, and the lane
   * takes its next batch, once it is durable.
   */
  transact<T>(lane: number, fn: JobRun<T>): Promise<{ value: T; durable: Promise<void> }>;
  /**
   * Runs the jobs of one batch inside its transaction, in the order given (grouped by key,
   * each key's jobs in the order they were submitted), and returns one outcome per job.
   */
  run(trx: Kysely<DB>, stamp: string, ms: number, jobs: J[]): Promise<Outcome[]>;
  /**
   * Batches committing at once (SQLite has one writer: 1). A key always goes to the same
   * lane, so concurrent batches never touch the same key's rows (no lock waits between
   * them) and a key's jobs commit in the order they were submitted.
   */
  lanes: number;
  /** How long a batch waits for company once the first job arrives, in ms. */
  windowMs: number;
  maxBatch: number;
}

class Lane<J> {
  queue: Queued<J>[] = [];
  busy = false;
  timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  /** Jobs submitted since `since`, and the smoothed rate of submissions (jobs per ms). */
  arrived = 0;
  since = performance.now();
  rate = 0;

  /** Jobs per ms lately: each reading covers at least `RATE_SPAN_MS`, and weighs half. */
  arrivalRate(now: number): number {
    const span = now - this.since;
    if (span >= RATE_SPAN_MS) {
      this.rate = (this.rate + this.arrived / span) / 2;
      // A long quiet spell is a rate of its own: forget what came before it.
      if (span > 50 * RATE_SPAN_MS) this.rate = this.arrived / span;
      this.arrived = 0;
      this.since = now;
    }
    return this.rate;
  }
}

/** The least time a reading of the arrival rate covers, in ms. */
const RATE_SPAN_MS = 5;

/**
 * Company worth waiting for: a batch waits for its window only while fewer than this many
 * jobs are queued and at least this many are expected to arrive within it. Otherwise it goes
 * at once (in the next turn): it has company already (what came while the last batch
 * committed), or the window would add its latency and gather next to nothing (one publisher
 * fanning out to a group of 1,000 sends ~0.1 a ms, two people chatting far less; a busy
 * server's sends arrive by the dozen a ms).
 */
const COMPANY_EXPECTED = 4;

/** FNV-1a: a cheap, stable spread of keys over the lanes. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Group commit: jobs that arrive within a millisecond or two share one transaction and so
 * one fsync (when jobs come often enough for the window to gather some: `COMPANY_EXPECTED`;
 * otherwise a batch goes in the next turn). A job resolves only after its whole batch
 * committed: acked means durable. When the batch as a whole fails (a job threw after
 * writing, a deadlock, a failed commit), nothing of it is durable and every job is run
 * again in a transaction of its own, so a bad job fails alone and its batch-mates commit.
 */
export class GroupCommit<J> {
  private readonly lanes: Lane<J>[];
  private closed = false;
  private idle: (() => void)[] = [];
  /** Batches committed, waiting to be durable before their jobs are answered. */
  private settling = 0;

  constructor(private readonly options: GroupCommitOptions<J>) {
    this.lanes = Array.from({ length: Math.max(1, options.lanes) }, () => new Lane<J>());
  }

  submit<T>(key: string, job: J): Promise<T> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'the server is shutting down; retry with the same clientId', { retryAfter: 1 }));
    const index = this.lanes.length === 1 ? 0 : hash(key) % this.lanes.length;
    const lane = this.lanes[index]!;
    lane.arrived++;
    return new Promise<T>((resolve, reject) => {
      lane.queue.push({ key, job, resolve: resolve as (v: unknown) => void, reject });
      this.schedule(lane, index);
    });
  }

  /** Resolves once every submitted job has settled; later submissions are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private isIdle(): boolean {
    return this.settling === 0 && this.lanes.every((l) => l.queue.length === 0 && !l.busy);
  }

  private schedule(lane: Lane<J>, index: number): void {
    if (lane.timer || lane.busy || lane.queue.length === 0) return;
    const go = () => {
      lane.timer = null;
      const batch = lane.queue.splice(0, this.options.maxBatch);
      lane.busy = true;
      void this.flush(index, batch).finally(() => {
        lane.busy = false;
        this.schedule(lane, index);
        this.checkIdle();
      });
    };
    // A full batch goes at once, and so does one that has company already (sends that came
    // while the last batch committed: the window would only add to their latency, ~40% of the
    // median at half of W2's peak) or that company is unlikely to join (in the next turn:
    // what was read in this one joins it); otherwise wait a moment for company.
    const expected = lane.arrivalRate(performance.now()) * this.options.windowMs;
    const goNow = lane.queue.length >= this.options.maxBatch || lane.queue.length >= COMPANY_EXPECTED || expected < COMPANY_EXPECTED;
    if (goNow) lane.timer = setImmediate(go);
    else lane.timer = setTimeout(go, this.options.windowMs);
  }

  private checkIdle(): void {
    if (this.isIdle()) for (const done of this.idle.splice(0)) done();
  }

  private async flush(lane: number, batch: Queued<J>[]): Promise<void> {
    // Stable: a key's jobs keep their order. Grouping by key keeps lock order stable too.
    const queued = batch.length > 1 ? [...batch].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) : batch;
    let committed: { value: Outcome[]; durable: Promise<void> };
    try {
      committed = await this.options.transact(lane, (trx, stamp, ms) =>
        this.options.run(
          trx,
          stamp,
          ms,
          queued.map((q) => q.job),
        ),
      );
    } catch (err) {
      if (queued.length === 1) {
        queued[0]!.reject(err);
        return;
      }
      // Alone, each job gets its own chance and its own answer, in order.
      for (const q of queued) await this.flush(lane, [q]);
      return;
    }
    const outcomes = committed.value;
    this.settling++;
    // The lane's next batch commits once this one is durable (below, the caller's turn):
    // while the fsync runs, sends pile up into one bigger batch, and one commit of many
    // rows writes each touched page once where several small commits wrote it each time.
    const settled = committed.durable.then(
      () => {},
      () => {},
    );
    void committed.durable
      .then(
        () =>
          queued.forEach((q, i) => {
            const outcome = outcomes[i]!;
            if (outcome.ok) q.resolve(outcome.value);
            else q.reject(outcome.err);
          }),
        // Committed but not known to be on disk: nobody is told it went through. A retry
        // (same clientId) is answered from what is stored.
        (err: unknown) => queued.forEach((q) => q.reject(err)),
      )
      .finally(() => {
        this.settling--;
        this.checkIdle();
      });
    await settled;
  }
}

/** The plain form: each job is a function of the transaction; a job that throws fails the batch (and is then retried alone). */
export function runEach(): GroupCommitOptions<JobRun<unknown>>['run'] {
  return async (trx, stamp, ms, jobs) => {
    const out: Outcome[] = [];
    for (const job of jobs) out.push({ ok: true, value: await job(trx, stamp, ms) });
    return out;
  };
}
