import { sql, type Kysely } from 'kysely';
import { AppError } from '../../errors.ts';
import type { DB } from '../../storage/db.ts';

/** Runs one job's writes inside the shared transaction; `stamp` is the batch's change time. */
export type JobRun<T> = (trx: Kysely<DB>, stamp: string, ms: number) => Promise<T>;

interface Job {
  /** Jobs run in key order inside a batch, so concurrent batches lock rows in one order. */
  key: string;
  run: JobRun<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions {
  /** Opens the batch's transaction (with its change stamp) and commits it. */
  transact<T>(fn: JobRun<T>): Promise<T>;
  /** Batches committing at once (SQLite has one writer: 1). */
  maxInFlight: number;
  /** How long a batch waits for company once the first job arrives, in ms. */
  windowMs: number;
  maxBatch: number;
}

/**
 * Group commit: jobs that arrive within a millisecond or two share one transaction and so
 * one fsync. Each job runs inside its own savepoint, so a job that throws is rolled back
 * alone (its seq is given back) and fails alone; its batch-mates commit. A job resolves only
 * after the whole batch committed: acked means durable.
 */
export class GroupCommit {
  private queue: Job[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private idle: (() => void)[] = [];

  constructor(private readonly options: GroupCommitOptions) {}

  submit<T>(key: string, run: JobRun<T>): Promise<T> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'the server is shutting down; retry with the same clientId', { retryAfter: 1 }));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ key, run, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves once every submitted job has settled; later submissions are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.queue.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0 || this.inFlight >= this.options.maxInFlight) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.schedule();
        if (this.queue.length === 0 && this.inFlight === 0) for (const done of this.idle.splice(0)) done();
      });
      this.schedule();
    }, this.options.windowMs);
  }

  private async flush(batch: Job[]): Promise<void> {
    const jobs = [...batch].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = [];
    try {
      await this.options.transact(async (trx, stamp, ms) => {
        outcomes.length = 0;
        for (const job of jobs) {
          await sql`savepoint job`.execute(trx);
          try {
            const value = await job.run(trx, stamp, ms);
            await sql`release savepoint job`.execute(trx);
            outcomes.push({ ok: true, value });
          } catch (err) {
            await sql`rollback to savepoint job`.execute(trx);
            await sql`release savepoint job`.execute(trx);
            outcomes.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      // The batch as a whole failed (a deadlock, a lost connection, a failed commit):
      // nothing of it is durable. Alone, each job gets its own chance and its own answer.
      if (jobs.length === 1) jobs[0]!.reject(err);
      else await Promise.all(jobs.map((job) => this.flush([job])));
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.err);
    });
  }
}
