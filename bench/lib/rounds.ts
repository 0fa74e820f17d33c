/**
 * Parley and its baseline measured in turns. This host's speed drifts over seconds and
 * minutes (the W3 loop read 79,000–91,000 deliveries/s in five 2-second spans in a row;
 * whole runs an hour apart 80,000–127,000), so one span of each side, a minute apart, moved
 * a ratio by ±15%. Measured in rounds, each side's spans interleaved with the other's and
 * the order flipped every round (A B, B A, A B, …: a steady drift weighs on both sides
 * alike), the two sides see the same machine.
 */
export async function inTurns<A, B>(rounds: number, a: () => Promise<A>, b: () => Promise<B>, options: { warmUp?: boolean } = {}): Promise<{ a: A[]; b: B[] }> {
  const as: A[] = [];
  const bs: B[] = [];
  // Not counted: the first span of a process that has just been set up runs colder code
  // (a quick run's first W3/10 round read 0.29 where the second read 0.48).
  if (options.warmUp) {
    await a();
    await b();
  }
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      as.push(await a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(await a());
    }
  }
  return { a: as, b: bs };
}

/** What a load generator reports of one measured span. */
export interface Span {
  /** Seconds measured. */
  elapsed: number;
  /** Counted per second: `counted` ÷ `elapsed`. */
  rate: number;
  /** Latency samples in ms. */
  latency: number[];
}

/**
 * Several spans of one side as one: counts and seconds summed (so the rate is the count over
 * all of them ÷ their time, not a mean of rates), latency samples together, the first of any
 * other field (an error message).
 */
export function pooled<T extends Span>(spans: readonly T[], counted: keyof T & string): T {
  if (spans.length === 0) throw new Error('pooled: no spans');
  const out: Record<string, unknown> = {};
  // Every key of any span: a field left undefined does not survive the trip over IPC.
  const keys = new Set(spans.flatMap((s) => Object.keys(s)));
  for (const key of keys) {
    const values = spans.map((s) => (s as Record<string, unknown>)[key]);
    if (key === 'latency') out.latency = spans.flatMap((s) => s.latency);
    else if (values.every((v) => typeof v === 'number')) out[key] = (values as number[]).reduce((sum, v) => sum + v, 0);
    else out[key] = values.find((v) => v !== undefined && v !== null);
  }
  const elapsed = out.elapsed as number;
  out.rate = elapsed > 0 ? (out[counted] as number) / elapsed : 0;
  return out as T;
}

/** CPU readings of one process over several spans, as one (cores busy on average over their time). */
export function pooledCpu(readings: readonly { cpu: number; wall: number; faults: number }[]): { cpu: number; wall: number; share: number; faults: number } {
  const cpu = readings.reduce((sum, r) => sum + r.cpu, 0);
  const wall = readings.reduce((sum, r) => sum + r.wall, 0);
  const faults = readings.reduce((sum, r) => sum + r.faults, 0);
  return { cpu, wall, share: wall > 0 ? cpu / wall : 0, faults };
}

/** Each round's ratio (Parley ÷ baseline), to show the spread behind the pooled one. */
export function roundRatios(parley: readonly { rate: number }[], baseline: readonly { rate: number }[]): number[] {
  return parley.map((p, i) => {
    const b = baseline[i]?.rate ?? 0;
    return b > 0 ? p.rate / b : Number.NaN;
  });
}
