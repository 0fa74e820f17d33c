import { describe, expect, it } from 'vitest';
import { settledRss } from './inspect.ts';

const MiB = 1024 * 1024;

/** A reader that plays back `steps` (MiB), one reading each 250 ms poll, then stays at the last. */
const playback = (steps: number[]) => {
  let i = 0;
  return { read: () => steps[Math.min(i++, steps.length - 1)]! * MiB, reads: () => i };
};

describe('settledRss', () => {
  it('waits out memory that goes back to the system in steps, with flat spells between them', async () => {
    // As Parley's RSS after W1's forced collections: flat for half a second, then down, flat, down.
    const r = playback([227, 227, 214.5, 214.5, 214.5, 156.3]);
    const rss = await settledRss(1, { stableMs: 1000, read: r.read });
    expect(rss).toBe(156.3 * MiB);
    // 156.3 first read at the 6th reading, then four more quarter-seconds of nothing moving.
    expect(r.reads()).toBe(10);
  });

  it('takes small wobbles as settled', async () => {
    const r = playback([100, 100.1, 99.95, 100.05, 100]);
    expect(await settledRss(1, { stableMs: 1000, read: r.read })).toBe(100 * MiB);
    expect(r.reads()).toBe(5);
  });

  it('gives up at its deadline with the latest reading', async () => {
    let n = 0;
    const rss = await settledRss(1, { stableMs: 1000, maxMs: 600, read: () => (n++ * 10 + 100) * MiB });
    expect(n).toBeGreaterThanOrEqual(3);
    expect(rss).toBe((n - 1) * 10 * MiB + 100 * MiB);
  });
});
