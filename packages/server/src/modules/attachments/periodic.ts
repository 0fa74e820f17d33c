import type { FastifyBaseLogger } from 'fastify';

export interface Periodic {
  /** Run the task now (after any run in progress) and resolve when it is done. */
  runNow(): Promise<void>;
  /** No further runs; resolves once a run in progress has finished. */
  stop(): Promise<void>;
}

/**
 * Run `task` every `intervalMs`, never two at once, with a timer that does not keep the
 * process alive. A failing run is logged and the next one happens as planned: a database
 * that is briefly down must not stop the sweepers for good.
 */
export function startPeriodic(name: string, intervalMs: number, task: () => Promise<unknown>, log: FastifyBaseLogger): Periodic {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const run = (): Promise<void> => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await task();
      } catch (err) {
        log.warn({ err, task: name }, 'periodic task failed');
      }
    });
    return running;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void run().then(schedule), intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
