/**
 * Reads V8 CPU profiles (`node --cpu-prof`) and answers "where did the server's time go":
 * the hottest functions by self time, and the same time grouped by where the code lives
 * (a Parley folder, a dependency, node internals, native/GC).
 *
 * CLI: `node --import tsx bench/lib/profile.ts <file.cpuprofile | dir> [top]`
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

/** Spans of a profile to keep, in ms since the profile started (≈ since the process started). */
export type Windows = [number, number][];

/**
 * The profile with only the samples inside `windows`: a benchmark profiles the measured
 * phases, not the process's startup (module loading) or the fixture setup.
 */
export function clip(profile: CpuProfile, windows: Windows | undefined): CpuProfile {
  if (!windows?.length || !profile.samples || !profile.timeDeltas) return profile;
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let t = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas![i]! / 1000;
    if (windows.some(([from, to]) => t >= from && t <= to)) {
      samples.push(id);
      timeDeltas.push(profile.timeDeltas![i]!);
    }
  });
  return { ...profile, samples, timeDeltas };
}

/** Where a frame's code lives: a workspace folder, a dependency, or the runtime. */
export function area(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1]!;
  const own = /packages\/([^/]+)\/src\/(?:(modules|storage|ws|http|bus)\/([^/]+)|([^/]+))/.exec(url);
  if (own) return own[2] ? `${own[1]}/${own[2]}/${own[3]!.replace(/\.ts$/, '')}` : `${own[1]}/${own[4]!.replace(/\.ts$/, '')}`;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  return path.basename(url);
}

const frameKey = (n: ProfileNode) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url ? `${url.replace(/^.*?(packages\/|node_modules\/)/, '$1')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
};

/**
 * Inclusive time of Parley's own functions (code under packages/): the time spent in them
 * and everything they called, each sample counted once per function. This names the
 * caller behind a hot library frame (which action issues all those queries).
 */
export function inclusiveOwn(profile: CpuProfile): [string, number][] {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  const samples = profile.samples ?? [];
  samples.forEach((id, i) => {
    const ms = (profile.timeDeltas?.[i] ?? 0) / 1000;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (!/\/packages\//.test(n.callFrame.url)) continue;
      const key = frameKey(n);
      if (seen.has(key)) continue;
      seen.add(key);
      totals.set(key, (totals.get(key) ?? 0) + ms);
    }
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** Self time per function and per area, in ms and as a share of all samples. */
export function selfTimes(profile: CpuProfile): { total: number; functions: [string, number][]; areas: [string, number][] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas![i] ?? 0) / 1000));
  } else {
    for (const n of profile.nodes) self.set(n.id, n.hitCount ?? 0);
  }
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url } = n.callFrame;
    const key = frameKey(n);
    functions.set(key, (functions.get(key) ?? 0) + ms);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + ms);
    total += ms;
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, functions: sorted(functions), areas: sorted(areas) };
}

const busy = (t: ReturnType<typeof selfTimes>) => t.total - (t.areas.find(([a]) => a === '(idle)')?.[1] ?? 0);

/**
 * A text summary of the busiest profile in `target` (a file, or a directory where each
 * thread wrote one: tsx's loader thread profiles too). Shares are of busy time: idle is
 * reported but not counted in them.
 */
export function summarizeProfile(target: string, top = 25, windows?: Windows): string | null {
  const files = statSync(target, { throwIfNoEntry: false })?.isDirectory()
    ? readdirSync(target)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => path.join(target, f))
    : [target];
  const profiles = files.map((file) => {
    const profile = clip(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, windows);
    return { file, profile, times: selfTimes(profile) };
  });
  profiles.sort((a, b) => busy(b.times) - busy(a.times));
  if (!profiles[0]) return null;
  const { file, times, profile } = profiles[0];
  const total = busy(times);
  const functions = times.functions.filter(([f]) => !f.startsWith('(idle)'));
  const areas = times.areas.filter(([a]) => a !== '(idle)');
  const pct = (ms: number) => `${((ms / total) * 100).toFixed(1).padStart(5)}%`;
  const span = windows?.length ? ` (measured phases only: ${windows.map(([a, b]) => `${(a / 1000).toFixed(1)}–${(b / 1000).toFixed(1)} s`).join(', ')})` : '';
  const lines = [`${path.basename(file)}: ${(total / 1000).toFixed(1)} s busy of ${(times.total / 1000).toFixed(1)} s sampled${span}`, '', 'by area (share of busy time):'];
  for (const [a, ms] of areas.slice(0, 15)) lines.push(`  ${pct(ms)}  ${a}`);
  lines.push('', `top ${top} functions (self time, share of busy time):`);
  for (const [f, ms] of functions.slice(0, top)) lines.push(`  ${pct(ms)}  ${f}`);
  lines.push('', `top ${top} Parley functions (inclusive: them and all they call, share of busy time):`);
  for (const [f, ms] of inclusiveOwn(profile).slice(0, top)) lines.push(`  ${pct(ms)}  ${f}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: profile.ts <file.cpuprofile | dir> [top]');
    process.exit(2);
  }
  console.log(summarizeProfile(target, Number(process.argv[3] ?? 25)) ?? 'no .cpuprofile found');
}
