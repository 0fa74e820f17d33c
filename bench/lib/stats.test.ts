import { describe, expect, it } from 'vitest';
import { check, Histogram, jsonLine, result, round, slope, table } from './stats.ts';
import { parseRssBytes, parseStatMinorFaults, parseStatTicks } from './proc.ts';
import { area, clip, selfTimes } from './profile.ts';

describe('Histogram', () => {
  it('gives nearest-rank percentiles over every sample, in any arrival order', () => {
    const h = new Histogram(4);
    for (const v of [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]) h.record(v);
    expect(h.count).toBe(10);
    expect(h.percentile(50)).toBe(5);
    expect(h.percentile(90)).toBe(9);
    expect(h.percentile(99)).toBe(10);
    expect(h.percentile(100)).toBe(10);
    expect(h.percentile(0)).toBe(1);
  });

  it('ignores samples that are not latencies and is NaN when empty', () => {
    const h = new Histogram();
    expect(h.percentile(50)).toBeNaN();
    h.record(Number.NaN);
    h.record(-1);
    h.record(Number.POSITIVE_INFINITY);
    expect(h.count).toBe(0);
  });

  it('survives the trip through IPC (toJSON / from) and merges', () => {
    const a = Histogram.from([3, 1, 2]);
    const b = Histogram.from(JSON.parse(JSON.stringify(a)) as number[]);
    b.merge(Histogram.from([100]));
    expect(b.count).toBe(4);
    expect(b.percentile(99)).toBe(100);
    expect(b.percentile(50)).toBe(2);
  });

  it('finds p99 of 100,000 uniform samples', () => {
    const h = new Histogram();
    for (let i = 100_000; i >= 1; i--) h.record(i / 1000);
    expect(h.percentile(99)).toBe(99);
    expect(h.percentile(50)).toBe(50);
  });
});

describe('slope', () => {
  it('fits a line through points by least squares', () => {
    expect(slope([1, 2, 3, 4], [3, 5, 7, 9])).toBeCloseTo(2);
    // One point off the line moves the slope by a share of its error, not by all of it.
    expect(slope([5000, 10_000, 15_000, 20_000], [100e6, 110e6, 120e6, 145e6])).toBeCloseTo(2900);
    expect(slope([5000, 20_000], [100e6, 145e6])).toBeCloseTo(3000);
  });

  it('is NaN where no line can be fitted', () => {
    expect(slope([], [])).toBeNaN();
    expect(slope([3], [4])).toBeNaN();
    expect(slope([2, 2, 2], [1, 5, 9])).toBeNaN();
  });
});

describe('results', () => {
  it('computes the ratio and the verdict for throughput targets (at least)', () => {
    const r = result({ workload: 'W2', metric: 'msg/s', engine: 'sqlite', parley: 6000, baseline: 10000, unit: 'msg/s', targetKind: 'min', targetValue: 0.5 });
    expect(r.ratio).toBe(0.6);
    expect(r.met).toBe(true);
    expect(r.target).toBe('>= 0.5');
    expect(result({ workload: 'W2', metric: 'm', engine: 'sqlite', parley: 4000, baseline: 10000, unit: 'u', targetKind: 'min', targetValue: 0.5 }).met).toBe(false);
  });

  it('computes the verdict for size targets (at most)', () => {
    const r = result({ workload: 'W1', metric: 'KiB', engine: 'sqlite', parley: 30, baseline: 10, unit: 'KiB', targetKind: 'max', targetValue: 2 });
    expect(r.ratio).toBe(3);
    expect(r.met).toBe(false);
    expect(r.target).toBe('<= 2');
  });

  it('has no ratio or verdict when a side is missing or the baseline is zero', () => {
    expect(result({ workload: 'W4', metric: 'm', engine: 'postgres', parley: null, baseline: 5, unit: 'u', targetKind: 'min', targetValue: 0.7 })).toMatchObject({ ratio: null, met: null });
    expect(result({ workload: 'W4', metric: 'm', engine: 'postgres', parley: 5, baseline: 0, unit: 'u', targetKind: 'min', targetValue: 0.7 })).toMatchObject({ ratio: null, met: null });
    // A negative slope (memory per socket lost in noise) is no measurement, not a target met.
    expect(result({ workload: 'W1', metric: 'm', engine: 'sqlite', parley: 3.1, baseline: -0.02, unit: 'KiB', targetKind: 'max', targetValue: 2 })).toMatchObject({ ratio: null, met: null });
    expect(result({ workload: 'W1', metric: 'm', engine: 'sqlite', parley: -1, baseline: 3, unit: 'KiB', targetKind: 'max', targetValue: 2 })).toMatchObject({ ratio: null, met: null });
  });

  it('writes one parseable JSON line with the issue’s keys first', () => {
    const r = check({ workload: 'W2', metric: 'p99', engine: 'sqlite', parley: 12.345, unit: 'ms', target: '< 25 ms', met: true, p50_ms: 3, p99_ms: 12.3, server_cpu: 0.987654 });
    const line = jsonLine(r);
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(parsed).slice(0, 6)).toEqual(['workload', 'engine', 'metric', 'parley', 'baseline', 'unit']);
    expect(parsed).toMatchObject({ parley: 12.3, baseline: null, ratio: null, met: true, server_cpu: 0.988 });
  });

  it('renders a table with a row per result and aligned columns', () => {
    const rows = [
      result({ workload: 'W2', metric: 'delivered', engine: 'sqlite', parley: 12_345.6, baseline: 20_000, unit: 'msg/s', targetKind: 'min', targetValue: 0.5 }),
      check({ workload: 'W5/1', metric: 'missed', engine: 'sqlite', parley: 0, unit: 'messages', target: '= 0', met: false }),
    ];
    const lines = table(rows).split('\n');
    expect(lines).toHaveLength(4);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines[2]).toContain('12,346');
    expect(lines[2]).toContain('met');
    expect(lines[3]).toContain('MISSED');
  });

  it('rounds to three significant digits below 100 and to integers above', () => {
    expect(round(0.123456)).toBe(0.123);
    expect(round(12.3456)).toBe(12.3);
    expect(round(1234.56)).toBe(1235);
    expect(round(Number.NaN)).toBeNull();
    expect(round(undefined)).toBeNull();
  });
});

describe('/proc parsing', () => {
  it('reads utime + stime even when the command name has spaces and parentheses', () => {
    // Fields 14 and 15 (utime, stime) are 250 and 50 here.
    const stat = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 5000 1000000 5000 18446744073709551615';
    expect(parseStatTicks(stat)).toBe(300);
    expect(() => parseStatTicks('garbage')).toThrow();
  });

  it('reads the minor page faults (field 10) past a command name with spaces and parentheses', () => {
    const stat = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 777 0 3 0 250 50 0 0 20 0 11 0 5000 1000000 5000 18446744073709551615';
    expect(parseStatMinorFaults(stat)).toBe(777);
    expect(() => parseStatMinorFaults('garbage')).toThrow();
  });

  it('reads VmRSS in bytes', () => {
    expect(parseRssBytes('Name:\tnode\nVmPeak:\t  900 kB\nVmRSS:\t   51200 kB\nThreads:\t11\n')).toBe(51200 * 1024);
    expect(() => parseRssBytes('Name:\tnode\n')).toThrow();
  });
});

describe('profile summaries', () => {
  it('groups frames by where the code lives', () => {
    expect(area('file:///work/main/node_modules/ws/lib/sender.js', 'frame')).toBe('ws');
    expect(area('file:///work/main/node_modules/@fastify/ajv/index.js', 'x')).toBe('@fastify/ajv');
    expect(area('file:///work/main/packages/server/src/modules/messages/actions.ts', 'send')).toBe('server/modules/messages');
    expect(area('file:///work/main/packages/server/src/ws/gateway.ts', 'onFrame')).toBe('server/ws/gateway');
    expect(area('node:internal/streams/writable', 'write')).toBe('node:internal');
    expect(area('', '(garbage collector)')).toBe('(garbage collector)');
  });

  it('adds up self time per function from samples and time deltas', () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
        { id: 2, callFrame: { functionName: 'send', url: 'file:///w/packages/server/src/modules/messages/actions.ts', lineNumber: 9 } },
        { id: 3, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
      ],
      samples: [2, 2, 3, 2],
      timeDeltas: [1000, 1000, 2000, 1000],
    };
    const { total, functions, areas } = selfTimes(profile);
    expect(total).toBe(5);
    expect(functions[0]).toEqual(['send packages/server/src/modules/messages/actions.ts:10', 3]);
    expect(areas).toContainEqual(['(garbage collector)', 2]);
  });

  it('keeps only the samples inside the measured windows', () => {
    const profile = {
      nodes: [{ id: 1, callFrame: { functionName: 'f', url: '', lineNumber: 0 } }],
      samples: [1, 1, 1, 1],
      // Samples at 1, 2, 3 and 4 ms after the profile started.
      timeDeltas: [1000, 1000, 1000, 1000],
    };
    expect(clip(profile, [[1.5, 3.5]]).samples).toHaveLength(2);
    expect(clip(profile, [[0, 1], [4, 9]]).timeDeltas).toEqual([1000, 1000]);
    expect(clip(profile, undefined)).toBe(profile);
  });
});
