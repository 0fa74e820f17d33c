import { describe, expect, it } from 'vitest';
import { inTurns, pooled, pooledCpu, roundRatios } from './rounds.ts';

describe('inTurns', () => {
  /** Two sides that record the order they were called in and count their own calls (b's by tens). */
  const recording = () => {
    const order: string[] = [];
    let a = 0;
    let b = 0;
    return {
      order,
      a: async () => {
        order.push('a');
        return ++a;
      },
      b: async () => {
        order.push('b');
        return ++b * 10;
      },
    };
  };

  it('interleaves the two sides and flips their order every round', async () => {
    const sides = recording();
    const out = await inTurns(4, sides.a, sides.b);
    expect(sides.order).toEqual(['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']);
    expect(out).toEqual({ a: [1, 2, 3, 4], b: [10, 20, 30, 40] });
  });

  it('warms each side up once, uncounted, when asked', async () => {
    const sides = recording();
    const out = await inTurns(2, sides.a, sides.b, { warmUp: true });
    expect(sides.order).toEqual(['a', 'b', 'a', 'b', 'b', 'a']);
    expect(out).toEqual({ a: [2, 3], b: [20, 30] });
  });

  it('waits for each measurement before the next starts', async () => {
    let running = 0;
    let overlapped = false;
    const measure = async () => {
      if (running++ > 0) overlapped = true;
      await new Promise((r) => setTimeout(r, 5));
      running--;
    };
    await inTurns(3, measure, measure);
    expect(overlapped).toBe(false);
  });
});

describe('pooled', () => {
  it('sums counts and seconds, so the rate is over the whole time, and keeps every latency sample', () => {
    const spans = [
      { delivered: 100, elapsed: 1, rate: 100, latency: [1, 2], errors: 0, undelivered: 1 },
      { delivered: 300, elapsed: 3, rate: 100, latency: [3], errors: 2, undelivered: 0, firstError: 'boom' },
      { delivered: 600, elapsed: 1, rate: 600, latency: [4, 5, 6], errors: 0, undelivered: 0 },
    ];
    const p = pooled(spans, 'delivered');
    expect(p.delivered).toBe(1000);
    expect(p.elapsed).toBe(5);
    // 1000 in 5 s, not the mean of the rates (266.7).
    expect(p.rate).toBe(200);
    expect(p.latency).toEqual([1, 2, 3, 4, 5, 6]);
    expect(p.errors).toBe(2);
    expect(p.undelivered).toBe(1);
    // A field only a later span has (undefined does not cross IPC) is kept.
    expect(p.firstError).toBe('boom');
  });

  it('refuses nothing to pool', () => {
    expect(() => pooled([], 'elapsed')).toThrow();
  });
});

describe('pooledCpu and roundRatios', () => {
  it('reads cores busy over the whole time of the spans', () => {
    expect(pooledCpu([{ cpu: 1, wall: 1, faults: 5 }, { cpu: 0.5, wall: 2, faults: 1 }])).toEqual({ cpu: 1.5, wall: 3, share: 0.5, faults: 6 });
    expect(pooledCpu([]).share).toBe(0);
  });

  it('gives each round its ratio, NaN where the baseline measured nothing', () => {
    expect(roundRatios([{ rate: 50 }, { rate: 60 }, { rate: 1 }], [{ rate: 100 }, { rate: 80 }, { rate: 0 }])).toEqual([0.5, 0.75, Number.NaN]);
  });
});
