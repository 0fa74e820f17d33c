/**
 * The harness's own arithmetic: latency samples, percentiles, ratios and the report
 * formats (one JSON line per result, and a table for people). No I/O here, so it is
 * unit-tested directly.
 */

/** Latency samples in milliseconds. Every sample is kept (runs are bounded), so percentiles are exact. */
export class Histogram {
  private samples: Float64Array;
  private n = 0;
  private sorted = true;

  constructor(initialCapacity = 1024) {
    this.samples = new Float64Array(Math.max(16, initialCapacity));
  }

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    if (this.n === this.samples.length) {
      const bigger = new Float64Array(this.samples.length * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    if (this.n > 0 && ms < this.samples[this.n - 1]!) this.sorted = false;
    this.samples[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  /** Nearest-rank percentile (p in 0..100); NaN when empty. */
  percentile(p: number): number {
    if (this.n === 0) return Number.NaN;
    if (!this.sorted) {
      this.samples.subarray(0, this.n).sort();
      this.sorted = true;
    }
    const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * this.n);
    return this.samples[Math.max(0, rank - 1)]!;
  }

  merge(other: Histogram): void {
    for (const v of other.values()) this.record(v);
  }

  values(): Float64Array {
    return this.samples.slice(0, this.n);
  }

  /** The compact form a load-generator process sends to the orchestrator. */
  toJSON(): number[] {
    return Array.from(this.values());
  }

  static from(values: Iterable<number>): Histogram {
    const h = new Histogram();
    for (const v of values) h.record(v);
    return h;
  }
}

/** Round for reports: 3 significant digits below 100, integers above. */
export function round(x: number | null | undefined): number | null {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  if (Math.abs(x) >= 100) return Math.round(x);
  return Number(x.toPrecision(3));
}

/** The least-squares slope of ys against xs; NaN with fewer than two distinct xs. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return Number.NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i]! / n;
    my += ys[i]! / n;
  }
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : Number.NaN;
}

/** CPU seconds spent per second of wall time: 1.0 is one core fully busy. */
export function cpuShare(cpuSeconds: number, wallSeconds: number): number {
  return wallSeconds > 0 ? cpuSeconds / wallSeconds : Number.NaN;
}

/**
 * How a workload's target reads its ratio. `min`: Parley ÷ baseline must be at least the
 * target (throughput). `max`: must be at most the target (memory, bytes on disk).
 */
export type TargetKind = 'min' | 'max';

interface ResultCore {
  workload: string;
  /** What was measured, e.g. "memory per socket", "delivered messages/s". */
  metric: string;
  engine: 'sqlite' | 'postgres' | 'none';
  parley: number | null;
  baseline: number | null;
  unit: string;
  ratio: number | null;
  /** e.g. ">= 0.5" or "<= 2" */
  target: string;
  met: boolean | null;
  p50_ms?: number | null;
  p99_ms?: number | null;
}
/** One line of the report; workloads add fields of their own (cpu use, counts, errors). */
export type Result = ResultCore & { [extra: string]: unknown };
type Extra = { [extra: string]: unknown };

/** A Result with its ratio and verdict computed from the two figures. */
export function result(fields: Omit<ResultCore, 'ratio' | 'met' | 'target'> & Extra & { targetKind: TargetKind; targetValue: number }): Result {
  const { targetKind, targetValue, ...rest } = fields;
  // A negative figure (a memory slope lost in noise, say) or a baseline of zero measured nothing:
  // no ratio, no verdict, rather than a ratio that reads as a target met.
  const measured = rest.parley !== null && rest.baseline !== null && rest.parley >= 0 && rest.baseline > 0;
  const ratio = measured ? rest.parley! / rest.baseline! : null;
  const met = ratio === null ? null : targetKind === 'min' ? ratio >= targetValue : ratio <= targetValue;
  return { ...rest, parley: round(rest.parley), baseline: round(rest.baseline), ratio: round(ratio), target: `${targetKind === 'min' ? '>=' : '<='} ${targetValue}`, met };
}

/** A requirement that is not a ratio (p99 under a bound, nothing missed). */
export function check(fields: Omit<ResultCore, 'ratio' | 'baseline' | 'met'> & Extra & { met: boolean | null }): Result {
  return { ...fields, parley: round(fields.parley), baseline: null, ratio: null };
}

/** One JSON object per line, keys in a stable order. */
export function jsonLine(r: Result): string {
  const ordered: Record<string, unknown> = {};
  for (const k of ['workload', 'engine', 'metric', 'parley', 'baseline', 'unit', 'ratio', 'target', 'met', 'p50_ms', 'p99_ms']) {
    if (k in r) ordered[k] = r[k];
  }
  for (const [k, v] of Object.entries(r)) if (!(k in ordered)) ordered[k] = typeof v === 'number' ? round(v) : v;
  return JSON.stringify(ordered);
}

const fmt = (v: unknown): string => {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'met' : 'MISSED';
  if (typeof v === 'number') return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(round(v));
  return String(v);
};

/** The readable table: one row per result, columns padded to fit. */
export function table(results: Result[]): string {
  const header = ['workload', 'engine', 'metric', 'parley', 'baseline', 'unit', 'ratio', 'target', 'verdict', 'p50 ms', 'p99 ms', 'server cpu', 'gen cpu'];
  const rows = results.map((r) => [
    r.workload,
    r.engine,
    r.metric,
    fmt(r.parley),
    fmt(r.baseline),
    r.unit,
    fmt(r.ratio),
    r.target,
    fmt(r.met),
    fmt(r.p50_ms),
    fmt(r.p99_ms),
    fmt(r.server_cpu),
    fmt(r.gen_cpu),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
