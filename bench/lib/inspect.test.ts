import { describe, expect, it } from 'vitest';
import { settledRss } from './inspect.ts';

const MiB = 1024 * 1024;

describe('settledRss', () => {
  it('waits while memory is still going back to the system, and answers once two readings agree', async () => {
    const readings = [380, 340, 290, 275, 274.5, 274.4].map((m) => m * MiB);
    let i = 0;
    const rss = await settledRss(1, 5000, () => readings[Math.min(i++, readings.length - 1)]!);
    expect(rss).toBe(274.5 * MiB);
    expect(i).toBe(5);
  });

  it('gives up at its deadline with the latest reading', async () => {
    let n = 0;
    const rss = await settledRss(1, 600, () => (n++ * 10 + 100) * MiB);
    expect(n).toBeGreaterThanOrEqual(3);
    expect(rss).toBe((n - 1) * 10 * MiB + 100 * MiB);
  });
});
