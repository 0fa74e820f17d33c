/**
 * Small bookkeeping writes (a session's last activity, a user's last-seen time) that may
 * share one transaction: while a batch commits, the next one collects, and a key written
 * twice is written once, with its latest value. Idle, a write goes out after the current
 * turn of the event loop (so the writes of one turn share it); busy, it waits for one
 * commit at most. With SQLite at `synchronous=FULL` every commit is an fsync on the event
 * loop, so a thousand devices reconnecting cost a few commits instead of a thousand.
 *
 * The promise a write returns settles when the batch holding it has committed (or failed).
 */
export function coalesce<K, V>(flush: (batch: Map<K, V>) => Promise<void>): (key: K, value: V) => Promise<void> {
  let next = new Map<K, V>();
  let waiting: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | null = null;
  let running = false;

  async function drain(): Promise<void> {
    running = true;
    await new Promise((resolve) => setImmediate(resolve));
    while (next.size > 0) {
      const batch = next;
      const done = waiting!;
      next = new Map();
      waiting = null;
      try {
        await flush(batch);
        done.resolve();
      } catch (err) {
        done.reject(err);
      }
    }
    running = false;
  }

  return (key, value) => {
    next.set(key, value);
    if (!waiting) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      waiting = { promise, resolve, reject };
    }
    const { promise } = waiting;
    if (!running) void drain();
    return promise;
  };
}
