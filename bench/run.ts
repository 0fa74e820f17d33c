/**
 * `npm run bench [-- --quick] [--only=W1,W2] [--engines=sqlite,postgres] [--profile] [--out=file]`
 *   `[--w2-rate=msg/s] [--w2-pairs=N] [--w3-sizes=10,100]` (for A/B pairs: W2's open loop at
 *   a fixed rate instead of half the peak each run measured, W2 over another number of
 *   conversations, and only some of W3's group sizes)
 *
 * Runs every workload of issue 6 against Parley and, in the same run, against the
 * baseline that stands for this machine's limit: server side pinned to core 0, load
 * generator to core 1, each measured through /proc. Prints one JSON line per result and,
 * at the end, a table; the JSON lines are also written to bench/results/.
 */
import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Api, freshStorage, openStorage, pool, PG_URL, seedUsers, startParley, type Engine, type SeededUser, type Storage } from './lib/parley.ts';
import { call, cpuSeconds, CpuMeter, fdHardLimit, freePort, LOAD_CORE, pinSelf, ROOT, SERVER_CORE, sleep, spawnPinned, waitFor, type Pinned } from './lib/proc.ts';
import { check, Histogram, jsonLine, result, round, slope, table, type Result } from './lib/stats.ts';
import { inTurns, pooled, pooledCpu, roundRatios, type Span } from './lib/rounds.ts';
import { summarizeProfile, type Windows } from './lib/profile.ts';
import { Inspector, INSPECT_ARGS, type MemorySample } from './lib/inspect.ts';
import { uuidv7, nowIso } from '../packages/server/src/ids.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

const quick = flag('quick');
const only = option('only')?.toUpperCase().split(',');
const profileDir = flag('profile') ? path.join(ROOT, 'bench', 'profiles', new Date().toISOString().replace(/[:.]/g, '-')) : undefined;
// Only a whole run replaces `full-latest.jsonl` (the record docs/PERFORMANCE.md cites); a run of
// some workloads or engines writes `…-partial.jsonl` unless told where.
const w2Rate = option('w2-rate') === undefined ? undefined : Number(option('w2-rate'));
const w3Sizes = option('w3-sizes')?.split(',').map(Number);
const w2Pairs = option('w2-pairs') === undefined ? undefined : Number(option('w2-pairs'));
if (w2Pairs !== undefined && !(Number.isInteger(w2Pairs) && w2Pairs >= 1)) throw new Error('--w2-pairs: a number of pairs, e.g. 50');
if (w2Rate !== undefined && !(w2Rate > 0)) throw new Error('--w2-rate: a number of messages a second');
if (w3Sizes && !w3Sizes.every((n) => Number.isInteger(n) && n >= 2)) throw new Error('--w3-sizes: group sizes of at least 2, e.g. 10,100');
const partial = only !== undefined || option('engines') !== undefined || w2Rate !== undefined || w2Pairs !== undefined || w3Sizes !== undefined;
const outFile = option('out') ?? path.join(ROOT, 'bench', 'results', `${quick ? 'quick' : 'full'}-${partial ? 'partial' : 'latest'}.jsonl`);

/** Every count and duration of a run; --quick shrinks them to fit in under 3 minutes. */
const S = quick
  ? { w1Sockets: 5000, w1ConnectDeadlineMs: 30_000, w2Pairs: 50, window: 4, warmupMs: 1000, durationMs: 3000, rateMs: 3000, w3Users: 200, w3Sizes: [10, 100], w3DurationMs: 2000, w4Rows: 20_000, w4Senders: 50, w5Messages: 1000, w5Conversations: 10, w5Devices: 100 }
  : { w1Sockets: 20_000, w1ConnectDeadlineMs: 360_000, w2Pairs: 100, window: 4, warmupMs: 2000, durationMs: 10_000, rateMs: 8000, w3Users: 1000, w3Sizes: [10, 100, 1000], w3DurationMs: 6000, w4Rows: 200_000, w4Senders: 100, w5Messages: 5000, w5Conversations: 50, w5Devices: 1000 };

/** Rounds of a workload's two sides in turns (`inTurns`): W2's closed loop, W3, W4 (W5/1 takes nine turns). */
const ROUNDS = quick ? 2 : 4;

if (w2Pairs !== undefined) S.w2Pairs = w2Pairs;
if (w3Sizes) {
  if (w3Sizes.some((n) => n > S.w3Users)) throw new Error(`--w3-sizes: groups of at most ${S.w3Users} (W3's users in this run)`);
  S.w3Sizes = w3Sizes;
}

const results: Result[] = [];
mkdirSync(path.dirname(outFile), { recursive: true });
writeFileSync(outFile, '');

function emit(r: Result): void {
  // Other work on the machine shows here: these figures are only comparable on a quiet one.
  r.load_avg_1m = round(os.loadavg()[0]);
  results.push(r);
  const line = jsonLine(r);
  console.log(line);
  appendFileSync(outFile, line + '\n');
}

function note(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function pgReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

const engineOption = option('engines')?.split(',') as Engine[] | undefined;
// The quick run stays on SQLite (its budget is 3 minutes); the full run adds PostgreSQL.
const ENGINES: Engine[] = engineOption ?? (!quick && (await pgReachable()) ? ['sqlite', 'postgres'] : ['sqlite']);

// ---------------------------------------------------------------------------------------
// Processes

async function startBaselineWs(nodeArgs: string[] = []): Promise<Pinned & { wsUrl: string }> {
  const port = await freePort();
  const p = spawnPinned(SERVER_CORE, 'bench/baselines/ws-server.ts', { env: { BENCH_PORT: String(port) }, nodeArgs });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok, 30_000, 'baseline ws server');
  return { ...p, wsUrl: `ws://127.0.0.1:${port}/v1/ws` };
}

const startGenerator = () => spawnPinned(LOAD_CORE, 'bench/load/client.ts', { ipc: true });
const startStorageBaseline = (engine: Engine) => spawnPinned(SERVER_CORE, `bench/baselines/${engine === 'sqlite' ? 'sqlite' : 'pg'}-raw.ts`, { ipc: true });

/** Every process started and not yet stopped: an interrupted run must not leave servers behind. */
const live = new Set<Pinned>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    note(`${signal}: stopping ${live.size} process(es)`);
    for (const p of live) p.child.kill('SIGKILL');
    process.exit(130);
  });
}

/** Everything started for one workload, stopped when it ends whatever happens. */
class Scope {
  private procs: Pinned[] = [];
  private storages: Storage[] = [];
  add<T extends Pinned>(p: T): T {
    this.procs.push(p);
    live.add(p);
    void p.exited.then(() => live.delete(p));
    return p;
  }
  storage(s: Storage): Storage {
    this.storages.push(s);
    return s;
  }
  async close(): Promise<void> {
    for (const p of this.procs.reverse()) await p.kill();
    this.procs = [];
    for (const s of this.storages) await s.drop().catch(() => {});
    this.storages = [];
  }
}

/** A Parley server on fresh storage with `users` seeded; profiled when --profile. */
async function parleyWith(scope: Scope, engine: Engine, userCount: number, prefix: string, tag: string, nodeArgs: string[] = []) {
  const storage = scope.storage(await freshStorage(engine));
  const database = await openStorage(storage);
  const users = await seedUsers(database, userCount, prefix);
  await database.close();
  const cpuProfDir = profileDir ? path.join(profileDir, `${tag}-${engine}`) : undefined;
  const server = scope.add(await startParley(storage, { cpuProfDir, nodeArgs }));
  return { storage, users, server, api: new Api(server.url), cpuProfDir };
}

/** The measured phases of each server process, for clipping its profile. */
const measuredWindows = new Map<number, Windows>();

/** A CpuMeter over the server that also marks the phase it measures, for its profile. */
function serverMeterOf(server: Pinned): CpuMeter {
  return new CpuMeter(
    () => [server.pid],
    (from, to) => {
      const windows = measuredWindows.get(server.pid) ?? [];
      windows.push([from - server.startedAt, to - server.startedAt]);
      measuredWindows.set(server.pid, windows);
    },
  );
}

/** Stop a profiled server and print its hottest frames in the measured phases (for docs/PERFORMANCE.md). */
async function stopAndProfile(server: Pinned, cpuProfDir: string | undefined, tag: string): Promise<void> {
  await server.kill('SIGINT');
  if (!cpuProfDir) return;
  await sleep(500);
  const summary = summarizeProfile(cpuProfDir, 25, measuredWindows.get(server.pid));
  if (summary) {
    const file = path.join(cpuProfDir, 'top-frames.txt');
    writeFileSync(file, summary);
    note(`profile ${tag}: ${file}\n${summary}`);
  }
}

/**
 * What PostgreSQL's backends of one database are doing, sampled every 200 ms while a phase
 * runs: a server that waits on locks or on its own connection pool shows it here.
 */
function pgWaits(storage: Storage): { pause(): void; resume(): void; stop(): Promise<string | null> } {
  if (!storage.databaseUrl) return { pause() {}, resume() {}, stop: async () => null };
  const name = new URL(storage.databaseUrl).pathname.slice(1);
  const client = new pg.Client({ connectionString: PG_URL });
  const counts = new Map<string, number>();
  let samples = 0;
  let running = true;
  // Paused while the other side of a workload's rounds is measured.
  let paused = false;
  const loop = (async () => {
    await client.connect();
    while (running) {
      if (paused) {
        await sleep(50);
        continue;
      }
      const { rows } = await client.query<{ w: string }>(
        "select state || ':' || coalesce(wait_event_type || '/' || wait_event, 'running') as w from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
        [name],
      );
      samples++;
      for (const r of rows) counts.set(r.w, (counts.get(r.w) ?? 0) + 1);
      await sleep(200);
    }
  })().catch(() => {});
  return {
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
    },
    async stop() {
      running = false;
      await loop;
      await client.end().catch(() => {});
      if (samples === 0) return null;
      return [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([w, n]) => `${w} ×${(n / samples).toFixed(1)}`)
        .join(', ');
    },
  };
}

/**
 * Wait until the server has worked off what setup queued (views pushed for every member of
 * a new group, presence, sweeps): a measured phase starts on an idle server. Idle: under 5%
 * of a core over a span (`spanMs`: a second after setup; 200 ms between turns of a workload,
 * for a server's last syncs and checkpoint). `quietly`: no note when it gives up.
 */
async function quiet(server: Pinned, options: { timeoutMs?: number; spanMs?: number; quietly?: boolean } = {}): Promise<void> {
  const { timeoutMs = 180_000, spanMs = 1000 } = options;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const before = cpuSeconds(server.pid);
    await sleep(spanMs);
    if (cpuSeconds(server.pid) - before < (0.05 * spanMs) / 1000) return;
  }
  if (!options.quietly) note(`server ${server.pid} still busy after ${timeoutMs / 1000} s of waiting; measuring anyway`);
}

const lat = (values: number[]) => Histogram.from(values);
const mb = (bytes: number) => bytes / 1024 / 1024;

type CpuReading = ReturnType<CpuMeter['read']>;
/** One side's span of a workload measured in turns: what the generator counted, and the CPU of both processes. */
interface Turn<R> {
  r: R;
  server: CpuReading;
  gen: CpuReading;
}

/** One side's span: `work` (a generator's command), with the CPU of its server and of `generator` around it. */
async function spanOf<R>(serverMeter: CpuMeter, generator: Pinned, work: () => Promise<R>): Promise<Turn<R>> {
  const genMeter = new CpuMeter(() => [generator.pid]);
  serverMeter.start();
  genMeter.start();
  const r = await work();
  return { r, server: serverMeter.read(), gen: genMeter.read() };
}

/**
 * What a workload measured in turns (`inTurns`: the baseline's spans `a`, Parley's `b`)
 * reports of both sides: each side's spans pooled, its latencies, the CPU of its server and
 * generator, and each round's ratio.
 */
function turnsReport<R extends Span>(turns: { a: Turn<R>[]; b: Turn<R>[] }, counted: keyof R & string) {
  const base = pooled(turns.a.map((t) => t.r), counted);
  const parley = pooled(turns.b.map((t) => t.r), counted);
  const serverCpu = pooledCpu(turns.b.map((t) => t.server));
  const baseCpu = pooledCpu(turns.a.map((t) => t.server));
  const counts = { parley: Math.max(1, parley[counted] as number), base: Math.max(1, base[counted] as number) };
  const pl = lat(parley.latency);
  const bl = lat(base.latency);
  return {
    parley,
    base,
    fields: {
      parley: parley.rate,
      baseline: base.rate,
      p50_ms: round(pl.percentile(50)),
      p99_ms: round(pl.percentile(99)),
      baseline_p50_ms: round(bl.percentile(50)),
      baseline_p99_ms: round(bl.percentile(99)),
      server_cpu: round(serverCpu.share),
      gen_cpu: round(pooledCpu(turns.b.map((t) => t.gen)).share),
      // Which side of the baseline set its figure: its server, or its generator.
      baseline_server_cpu: round(baseCpu.share),
      baseline_gen_cpu: round(pooledCpu(turns.a.map((t) => t.gen)).share),
      // CPU per message survives a shared machine better than throughput does.
      server_cpu_s_per_M: round((serverCpu.cpu / counts.parley) * 1e6),
      server_faults_per_k: round((serverCpu.faults / counts.parley) * 1e3),
      baseline_cpu_s_per_M: round((baseCpu.cpu / counts.base) * 1e6),
      rounds: turns.a.length,
      round_ratios: roundRatios(turns.b.map((t) => t.r), turns.a.map((t) => t.r)).map(round),
    },
  };
}

// ---------------------------------------------------------------------------------------
// W1: idle density

const W1_GROUP = 10;

/** Where W1 reads the memory: after a quarter, a half, three quarters and all of the sockets. */
const W1_POINTS = 4;

/**
 * Memory per socket as the slope of memory against sockets, fitted by least squares to a
 * point at each quarter of the sockets, each taken after a forced full GC: what setup left
 * behind cancels out of the slope. The RSS beside V8's heap (malloc's arenas, memory freed
 * but not yet given back) moves by ±15 MB from point to point and run to run; a slope
 * through two points took all of it (1.47 to 2.1 in two runs of the same code, the heap's
 * slope 4.52 and 4.53 KiB in both), four points halve it.
 */
async function marginalMemory(p: Pinned, connect: (tokens: string[]) => Promise<number>, tokens: string[]) {
  const inspector = await Inspector.attach(p);
  try {
    const points: { sockets: number; memory: MemorySample }[] = [];
    let connected = 0;
    for (let i = 1; i <= W1_POINTS; i++) {
      const from = Math.floor(((i - 1) * tokens.length) / W1_POINTS);
      const to = Math.floor((i * tokens.length) / W1_POINTS);
      connected += await connect(tokens.slice(from, to));
      await sleep(1000);
      points.push({ sockets: connected, memory: await inspector.memory(p.pid) });
    }
    const per = (k: keyof MemorySample) =>
      slope(
        points.map((q) => q.sockets),
        points.map((q) => q.memory[k]),
      );
    return {
      perSocket: per('rss'),
      heapPerSocket: per('heapUsed'),
      heapTotalPerSocket: per('heapTotal'),
      externalPerSocket: per('external'),
      connected,
      rssPointsMb: points.map((q) => round(mb(q.memory.rss))),
      after: points[points.length - 1]!.memory,
    };
  } finally {
    inspector.close();
  }
}

async function w1(): Promise<void> {
  // One process cannot hold more sockets than its open-file limit; keep room for the
  // listener, the database and node's own descriptors.
  const n = Math.min(S.w1Sockets, fdHardLimit() - 100);
  const localAddresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
  // Two generator processes: each holds half the client sockets, under its own fd limit.
  const connectAll = async (gens: Pinned[], url: string, protocol: 'parley' | 'bare', tokens: string[]): Promise<number> => {
    const perGenerator = Math.ceil(tokens.length / gens.length);
    const done = await Promise.all(
      gens.map((g, i) =>
        call<{ connected: number }>(g, {
          cmd: 'connect',
          url,
          protocol,
          tokens: tokens.slice(i * perGenerator, (i + 1) * perGenerator),
          localAddresses,
          concurrency: protocol === 'parley' ? 25 : 100,
          deadlineMs: S.w1ConnectDeadlineMs,
        }),
      ),
    );
    return done.reduce((sum, d) => sum + d.connected, 0);
  };

  const scope = new Scope();
  let baseline: Awaited<ReturnType<typeof marginalMemory>>;
  try {
    note(`W1 baseline: bare ws server, ${n} sockets`);
    const base = scope.add(await startBaselineWs(INSPECT_ARGS));
    const gens = [scope.add(startGenerator()), scope.add(startGenerator())];
    baseline = await marginalMemory(base, (tokens) => connectAll(gens, base.wsUrl, 'bare', tokens), Array.from({ length: n }, (_, i) => `u${i}`));
  } finally {
    await scope.close();
  }

  try {
    note(`W1 Parley: ${n} authenticated sockets, each in 3 groups of ${W1_GROUP}`);
    const { users, server, api } = await parleyWith(scope, 'sqlite', n, 'w1u', 'W1', INSPECT_ARGS);
    // Three rounds of groups of 10 (the size of most people's groups), each round shifted,
    // so everyone is in three groups with different people.
    const groups: SeededUser[][] = [];
    for (let round = 0; round < 3; round++) {
      for (let start = 0; start < n; start += W1_GROUP) {
        groups.push(Array.from({ length: Math.min(W1_GROUP, n - start) }, (_, j) => users[(start + j + round * 37) % n]!));
      }
    }
    await pool(groups, 4, (members, i) => api.group(members[0]!, members, `w1 group ${i}`));
    const gens = [scope.add(startGenerator()), scope.add(startGenerator())];
    const meter = new CpuMeter(() => [server.pid]);
    meter.start();
    const parley = await marginalMemory(server, (tokens) => connectAll(gens, server.wsUrl, 'parley', tokens), users.map((u) => u.token));
    const connectCpu = meter.read();
    emit(
      result({
        workload: 'W1',
        metric: 'memory per socket (RSS after full GC)',
        engine: 'sqlite',
        parley: parley.perSocket / 1024,
        baseline: baseline.perSocket / 1024,
        unit: 'KiB',
        targetKind: 'max',
        targetValue: 2,
        sockets: parley.connected,
        sockets_wanted: n,
        groups_per_user: 3,
        group_size: W1_GROUP,
        heap_kib_per_socket: round(parley.heapPerSocket / 1024),
        baseline_heap_kib_per_socket: round(baseline.heapPerSocket / 1024),
        heap_total_kib_per_socket: round(parley.heapTotalPerSocket / 1024),
        baseline_heap_total_kib_per_socket: round(baseline.heapTotalPerSocket / 1024),
        external_kib_per_socket: round(parley.externalPerSocket / 1024),
        baseline_external_kib_per_socket: round(baseline.externalPerSocket / 1024),
        rss_points_mb: parley.rssPointsMb,
        baseline_rss_points_mb: baseline.rssPointsMb,
        server_rss_mb: round(mb(parley.after.rss)),
        connect_cpu_s: round(connectCpu.cpu),
        connect_wall_s: round(connectCpu.wall),
        connect_ms_per_socket: round((connectCpu.wall * 1000) / Math.max(1, parley.connected)),
      }),
    );
  } catch (err) {
    failed('W1', 'sqlite', err, { value: baseline.perSocket / 1024, unit: 'KiB' });
  } finally {
    await scope.close();
  }
}

// ---------------------------------------------------------------------------------------
// W2: one-to-one

interface PairsResult {
  delivered: number;
  elapsed: number;
  rate: number;
  latency: number[];
  errors: number;
  firstError?: string;
  undelivered: number;
}

async function w2(): Promise<void> {
  const pairsCount = S.w2Pairs;
  const scope = new Scope();
  try {
    // The relay stays up through the workload: Parley's closed loop on each engine is measured
    // in rounds, its spans and the relay's in turns (`inTurns`).
    note(`W2 baseline: bare ws relay, ${pairsCount} pairs, window ${S.window}`);
    const base = scope.add(await startBaselineWs());
    const baseGen = scope.add(startGenerator());
    const tokens = Array.from({ length: pairsCount * 2 }, (_, i) => `p${i}`);
    await call(baseGen, { cmd: 'connect', url: base.wsUrl, protocol: 'bare', tokens });
    const basePairs = Array.from({ length: pairsCount }, (_, i) => ({ a: 2 * i, b: 2 * i + 1, target: tokens[2 * i + 1], targetB: tokens[2 * i] }));
    const relayMeter = new CpuMeter(() => [base.pid]);
    const relaySpan: W2Span = () =>
      spanOf(relayMeter, baseGen, () => call<PairsResult>(baseGen, { cmd: 'pairs', pairs: basePairs, window: S.window, warmupMs: S.warmupMs / 4, durationMs: S.durationMs / ROUNDS }));
    for (const engine of ENGINES) await w2On(engine, relaySpan);
  } finally {
    await scope.close();
  }
}

type W2Span = () => Promise<Turn<PairsResult>>;

async function w2On(engine: Engine, relaySpan: W2Span): Promise<void> {
  const pairsCount = S.w2Pairs;
  const scope = new Scope();
  let relay: PairsResult | null = null;
  try {
    note(`W2 Parley on ${engine}: ${pairsCount} pairs in direct conversations`);
    const { users, server, api, cpuProfDir, storage } = await parleyWith(scope, engine, pairsCount * 2, 'w2u', 'W2');
    const convs = await pool(Array.from({ length: pairsCount }, (_, i) => i), 8, (i) => api.direct(users[2 * i]!, users[2 * i + 1]!));
    const gen = scope.add(startGenerator());
    await call(gen, { cmd: 'connect', url: server.wsUrl, protocol: 'parley', tokens: users.map((u) => u.token) });
    const pairs = convs.map((c, i) => ({ a: 2 * i, b: 2 * i + 1, target: c, targetB: c }));
    await quiet(server);
    const waits = pgWaits(storage);
    waits.pause();
    const parleySpan: W2Span = () =>
      spanOf(serverMeterOf(server), gen, async () => {
        waits.resume();
        const r = await call<PairsResult>(gen, { cmd: 'pairs', pairs, window: S.window, warmupMs: S.warmupMs / 4, durationMs: S.durationMs / ROUNDS });
        waits.pause();
        return r;
      });
    note(`W2 on ${engine}: ${ROUNDS} rounds of the closed loop, the relay and Parley in turns`);
    const turns = await inTurns(ROUNDS, relaySpan, parleySpan, { warmUp: true });
    const pgBackends = await waits.stop();
    const report = turnsReport(turns, 'delivered');
    relay = report.base;
    const peak = report.parley;
    if (peak.errors) note(`W2 ${engine}: ${peak.errors} error frames, first ${peak.firstError}`);
    emit(
      result({
        workload: 'W2',
        metric: 'delivered messages/s (closed loop)',
        engine,
        unit: 'msg/s',
        targetKind: 'min',
        targetValue: 0.5,
        ...report.fields,
        errors: peak.errors,
        undelivered: peak.undelivered,
        ...(pgBackends ? { pg_backends: pgBackends } : {}),
      }),
    );

    const rate = w2Rate ?? Math.max(1, Math.round(peak.rate / 2));
    note(`W2 Parley on ${engine}: open loop at ${rate} msg/s (${w2Rate === undefined ? 'half the peak' : 'as asked'})`);
    const { r: half, server: halfServer, gen: halfGen } = await spanOf(serverMeterOf(server), gen, () =>
      call<PairsResult>(gen, { cmd: 'pairs', pairs, window: 0, rate, warmupMs: S.warmupMs / 2, durationMs: S.rateMs }),
    );
    const hl = lat(half.latency);
    const p99 = hl.percentile(99);
    emit(
      check({
        workload: 'W2',
        metric: w2Rate === undefined ? 'send→receive p99 at half the peak rate' : `send→receive p99 at ${w2Rate} msg/s`,
        engine,
        parley: p99,
        unit: 'ms',
        target: '< 25 ms',
        met: half.delivered > 0 ? p99 < 25 : null,
        p50_ms: round(hl.percentile(50)),
        p99_ms: round(p99),
        // The shape of the tail: a queue that builds now and then, or a few long stalls.
        p90_ms: round(hl.percentile(90)),
        p95_ms: round(hl.percentile(95)),
        p999_ms: round(hl.percentile(99.9)),
        max_ms: round(hl.percentile(100)),
        offered_rate: rate,
        delivered_rate: round(half.rate),
        server_cpu: round(halfServer.share),
        gen_cpu: round(halfGen.share),
        errors: half.errors,
      }),
    );
    await stopAndProfile(server, cpuProfDir, `W2-${engine}`);
  } catch (err) {
    failed('W2', engine, err, relay ? { value: relay.rate, unit: 'msg/s' } : null);
  } finally {
    await scope.close();
  }
}

// ---------------------------------------------------------------------------------------
// W3: group fan-out

interface FanoutResult {
  deliveries: number;
  completed: number;
  published: number;
  elapsed: number;
  rate: number;
  latency: number[];
  errors: number;
  firstError?: string;
  incomplete: number;
}

const W3_WINDOW = 2;

function w3Groups(users: number): { size: number; groups: number[][] }[] {
  return S.w3Sizes.map((size) => ({
    size,
    groups: Array.from({ length: Math.max(1, Math.floor(users / size)) }, (_, g) => Array.from({ length: size }, (_, j) => g * size + j)),
  }));
}

async function w3(): Promise<void> {
  const layout = w3Groups(S.w3Users);
  const scope = new Scope();
  try {
    // Both sides stay up through the workload: each group size is measured in rounds, the
    // loop's spans and Parley's in turns (`inTurns`).
    note(`W3 baseline: pre-serialized buffer written to ${S.w3Users} sockets, groups of ${S.w3Sizes.join(', ')}`);
    const base = scope.add(await startBaselineWs());
    const baseGen = scope.add(startGenerator());
    await call(baseGen, { cmd: 'connect', url: base.wsUrl, protocol: 'bare', tokens: Array.from({ length: S.w3Users }, (_, i) => `f${i}`) });
    await call(baseGen, { cmd: 'join', groups: layout.flatMap(({ size, groups }) => groups.map((members, g) => ({ group: `g:${size}:${g}`, members }))) });

    note('W3 Parley: the same groups as conversations');
    const { users, server, api, storage, cpuProfDir } = await parleyWith(scope, 'sqlite', S.w3Users, 'w3u', 'W3');
    // Everyone connects before the groups exist: a connect costs queries per online peer
    // (the presence snapshot, see docs/PERFORMANCE.md), which W1 and W5 measure; W3 measures fan-out.
    const gen = scope.add(startGenerator());
    await call(gen, { cmd: 'connect', url: server.wsUrl, protocol: 'parley', tokens: users.map((u) => u.token), concurrency: 10 });
    const convs = new Map<number, string[]>();
    for (const { size, groups } of layout) {
      convs.set(size, await pool(groups, 4, (members, g) => api.group(users[members[0]!]!, members.map((m) => users[m]!), `w3 ${size} ${g}`)));
    }
    await quiet(server);
    let published = 0;
    for (const { size, groups } of layout) {
      const span = (generator: Pinned, meter: CpuMeter, targets: (g: number) => string) => () =>
        spanOf(meter, generator, () =>
          call<FanoutResult>(generator, {
            cmd: 'fanout',
            groups: groups.map((members, g) => ({ publisher: members[0], target: targets(g), expected: members.length - 1 })),
            window: W3_WINDOW,
            warmupMs: S.warmupMs / 4,
            durationMs: S.w3DurationMs / ROUNDS,
          }),
        );
      note(`W3/${size}: ${ROUNDS} rounds, the loop and Parley in turns`);
      const turns = await inTurns(
        ROUNDS,
        span(baseGen, new CpuMeter(() => [base.pid]), (g) => `g:${size}:${g}`),
        // Every span's messages are stored, the uncounted warm-up's too: all count for "stored once".
        async () => {
          const turn = await span(gen, serverMeterOf(server), (g) => convs.get(size)![g]!)();
          published += turn.r.published;
          return turn;
        },
        { warmUp: true },
      );
      const { parley: r, fields } = turnsReport(turns, 'deliveries');
      if (r.errors) note(`W3 ${size}: ${r.errors} error frames, first ${r.firstError}`);
      emit(
        result({
          workload: `W3/${size}`,
          metric: `deliveries/s, ${groups.length} group(s) of ${size}`,
          engine: 'sqlite',
          unit: 'deliveries/s',
          targetKind: 'min',
          targetValue: 0.7,
          ...fields,
          errors: r.errors,
          incomplete: r.incomplete,
        }),
      );
    }
    await stopAndProfile(server, cpuProfDir, 'W3');
    const stored = await storedMessages(storage, (db) => db.prepare("select count(*) as n from messages where kind = 'message'").get() as { n: number });
    emit(
      check({
        workload: 'W3',
        metric: 'rows stored per published message',
        engine: 'sqlite',
        parley: published ? stored.n / published : null,
        unit: 'rows/msg',
        target: '= 1',
        met: published ? stored.n === published : null,
        published,
        stored: stored.n,
      }),
    );
  } catch (err) {
    failed('W3', 'sqlite', err);
  } finally {
    await scope.close();
  }
}

async function storedMessages<T>(storage: Storage, q: (db: SQLite.Database) => T): Promise<T> {
  const db = new SQLite(storage.file!, { readonly: true });
  try {
    return q(db);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------
// W4: persistence

interface InsertResult {
  rows: number;
  elapsed: number;
  rate: number;
  latency: number[];
}

interface PersistResult {
  acked: number;
  elapsed: number;
  rate: number;
  latency: number[];
  errors: number;
  firstError?: string;
  unacked: number;
}

async function w4(): Promise<void> {
  for (const engine of ENGINES) {
    const scope = new Scope();
    try {
      // Both sides stay up through the workload and take turns (`inTurns`): a share of the
      // raw rows, then Parley's senders for a while, and so on.
      note(`W4 baseline on ${engine}: raw prepared insert, ${S.w4Rows} rows in 1,000-row transactions, in ${ROUNDS + 1} shares`);
      const storage = scope.storage(await freshStorage(engine));
      const database = await openStorage(storage);
      const [owner] = await seedUsers(database, 1, 'w4raw');
      const conversations = Array.from({ length: S.w4Senders }, () => uuidv7());
      const now = nowIso();
      await database.db
        .insertInto('conversations')
        .values(conversations.map((id) => ({ id, type: 'group', direct_key: null, title: 'raw', description: '', avatar_attachment_id: null, info_policy: 'admins', last_seq: 0, disappearing_seconds: 0, created_by: owner!.id, created_at: now, updated_at: now })))
        .execute();
      await database.close();
      const raw = scope.add(startStorageBaseline(engine));
      await call(raw, { cmd: 'open', file: storage.file, url: storage.databaseUrl, count: S.w4Rows, batch: 1000, conversations, userId: owner!.id, deviceId: uuidv7() });

      note(`W4 Parley on ${engine}: ${S.w4Senders} senders, ${S.window * 4} sends in flight each`);
      const { users, server, api, storage: pStorage, cpuProfDir } = await parleyWith(scope, engine, S.w4Senders, 'w4u', 'W4');
      const convs = await pool(users, 8, (u, i) => api.group(u, [u], `w4 ${i}`));
      const gen = scope.add(startGenerator());
      await call(gen, { cmd: 'connect', url: server.wsUrl, protocol: 'parley', tokens: users.map((u) => u.token) });
      await quiet(server);
      const waits = pgWaits(pStorage);
      waits.pause();
      // The raw process's CPU only (PostgreSQL's own work is not in it, as it is not in
      // Parley's figure); the warm-up share is one of ROUNDS + 1.
      const rawMeter = new CpuMeter(() => [raw.pid]);
      const rawSpan = async (): Promise<Turn<InsertResult>> => {
        // Parley's last batches and its checkpoint finish first: they would share the core and the disk.
        await quiet(server, { timeoutMs: 5000, spanMs: 200, quietly: true });
        rawMeter.start();
        const r = await call<InsertResult>(raw, { cmd: 'insert', count: Math.ceil(S.w4Rows / (ROUNDS + 1)) });
        const used = rawMeter.read();
        return { r, server: used, gen: { cpu: 0, wall: used.wall, share: 0, faults: 0 } };
      };
      const parleySpan = () =>
        spanOf(serverMeterOf(server), gen, async () => {
          waits.resume();
          const r = await call<PersistResult>(gen, {
            cmd: 'persist',
            senders: convs.map((c, i) => ({ index: i, target: c })),
            window: S.window * 4,
            warmupMs: S.warmupMs / 4,
            durationMs: S.durationMs / ROUNDS,
          });
          waits.pause();
          return r;
        });
      note(`W4 on ${engine}: ${ROUNDS} rounds, the raw insert and Parley in turns`);
      const turns = await inTurns(ROUNDS, rawSpan, parleySpan, { warmUp: true });
      const pgBackends = await waits.stop();
      const baselineSize = await call<{ bytesPerMessage: number | null; rows: number }>(raw, { cmd: 'finish' });
      const rawRows = pooled(turns.a.map((t) => t.r), 'rows');
      const r = pooled(turns.b.map((t) => t.r), 'acked');
      const serverCpu = pooledCpu(turns.b.map((t) => t.server));
      const rawCpu = pooledCpu(turns.a.map((t) => t.server));
      if (r.errors) note(`W4 ${engine}: ${r.errors} error frames, first ${r.firstError}`);
      await stopAndProfile(server, cpuProfDir, `W4-${engine}`);
      const raw2 = scope.add(startStorageBaseline(engine));
      const size = await call<{ bytesPerMessage: number | null; rows: number }>(raw2, { cmd: 'size', file: pStorage.file, url: pStorage.databaseUrl });
      const l = lat(r.latency);
      emit(
        result({
          workload: 'W4',
          metric: 'persisted messages/s',
          engine,
          parley: r.rate,
          baseline: rawRows.rate,
          unit: 'msg/s',
          targetKind: 'min',
          targetValue: 0.7,
          p50_ms: round(l.percentile(50)),
          p99_ms: round(l.percentile(99)),
          server_cpu: round(serverCpu.share),
          gen_cpu: round(pooledCpu(turns.b.map((t) => t.gen)).share),
          baseline_server_cpu: round(rawCpu.share),
          server_cpu_s_per_M: round((serverCpu.cpu / Math.max(1, r.acked)) * 1e6),
          server_faults_per_k: round((serverCpu.faults / Math.max(1, r.acked)) * 1e3),
          // The raw side's rows were made at `open`, outside its spans: this is its inserts' CPU.
          baseline_cpu_s_per_M: round((rawCpu.cpu / Math.max(1, rawRows.rows)) * 1e6),
          rounds: ROUNDS,
          round_ratios: roundRatios(turns.b.map((t) => t.r), turns.a.map((t) => t.r)).map(round),
          errors: r.errors,
          unacked: r.unacked,
          ...(pgBackends ? { pg_backends: pgBackends } : {}),
        }),
      );
      emit(
        result({
          workload: 'W4',
          metric: 'bytes on disk per message (table + indexes)',
          engine,
          parley: size.bytesPerMessage,
          baseline: baselineSize.bytesPerMessage,
          unit: 'B/msg',
          targetKind: 'max',
          targetValue: 1.3,
          rows: size.rows,
          baseline_rows: baselineSize.rows,
        }),
      );
    } catch (err) {
      failed('W4', engine, err);
    } finally {
      await scope.close();
    }
  }
}

// ---------------------------------------------------------------------------------------
// W5: catch-up

/** W5/1 runs this many times from the same standing (so does its baseline); the medians are reported. */
const W5_SINGLE_REPEATS = 9;

/**
 * History pages a catching-up device has in flight. The SDK pages every changed conversation
 * at once (client.ts `syncOnce`); a browser holds six HTTP/1.1 connections per host, so the
 * web app gets six pages at a time: so does each device here.
 */
const W5_PAGES_IN_FLIGHT = 6;

interface CatchupResult {
  retries: number;
  rows: number;
  seconds: number;
  rate: number;
  missed: number;
  duplicates: number;
  requests: number;
}

async function w5(): Promise<void> {
  const scope = new Scope();
  try {
    const convCount = S.w5Conversations;
    const groupSize = 100;
    const groupCount = Math.ceil(S.w5Devices / groupSize);
    note(`W5 Parley: one device behind by ${S.w5Messages} messages in ${convCount} conversations; ${S.w5Devices} devices behind by 100`);
    const { users, server, api, storage, cpuProfDir } = await parleyWith(scope, 'sqlite', 1 + convCount + S.w5Devices, 'w5u', 'W5');
    const reader = users[0]!;
    const senders = users.slice(1, 1 + convCount);
    const devices = users.slice(1 + convCount);
    const direct = await pool(senders, 8, (s) => api.direct(s, reader));
    const groups = await pool(
      Array.from({ length: groupCount }, (_, g) => devices.slice(g * groupSize, (g + 1) * groupSize)),
      4,
      (members, g) => api.group(members[0]!, members, `w5 ${g}`),
    );
    // Where every device stands before it goes offline: its cursor and last seq per conversation.
    const standing = async (u: SeededUser) => {
      const sync = await api.call<{ cursor: string; conversations: { id: string; lastSeq: number }[] }>('GET', '/v1/sync', u.token);
      return { token: u.token, cursor: sync.cursor, known: Object.fromEntries(sync.conversations.map((c) => [c.id, c.lastSeq])) };
    };
    const readerBefore = await standing(reader);
    const devicesBefore = await pool(devices, 16, standing);

    note('W5: writing the backlog through the HTTP API');
    const send = (u: SeededUser, conv: string, i: number) =>
      api.call('POST', `/v1/conversations/${conv}/messages`, u.token, {
        clientId: `w5-${conv.slice(-8)}-${i}`,
        kind: 'message',
        content: { encoding: 'plain', data: `{"s":0,"n":${i},"t":0,"text":"${'x'.repeat(80)}"}` },
      });
    await pool(Array.from({ length: S.w5Messages }, (_, i) => i), 16, (i) => send(senders[i % convCount]!, direct[i % convCount]!, i));
    await pool(Array.from({ length: groupCount * 100 }, (_, i) => i), 16, (i) => {
      const g = i % groupCount;
      return send(devices[g * groupSize]!, groups[g]!, i);
    });

    const gen = scope.add(startGenerator());
    await quiet(server);
    // One device's catch-up takes a tenth of a second or so: too short a clock to read once
    // (a scheduler hiccup or a GC moves it by half). It runs REPEATS times from the same
    // standing, reading the same rows each time, as does its baseline, and each side reports
    // its median; every run is checked for missed and duplicated messages.
    const runs: { name: string; devices: typeof devicesBefore; repeats: number }[] = [
      { name: `1 device, ${S.w5Messages} messages in ${convCount} conversations`, devices: [readerBefore], repeats: W5_SINGLE_REPEATS },
      { name: `${S.w5Devices} devices at once, 100 behind each`, devices: devicesBefore, repeats: 1 },
    ];
    // Warm-up, not measured: a running server has served catch-up before (the other
    // workloads warm up too); a fresh process's first history pages run unoptimized code.
    // The last 20 devices catch up once here, and again with the others below.
    await call<CatchupResult>(gen, { cmd: 'catchup', url: server.url, wsUrl: server.wsUrl, devices: devicesBefore.slice(-20), pageLimit: 200, parallel: W5_PAGES_IN_FLIGHT });
    // The baseline scans exactly the ranges each run fetched, from the same file, in turns
    // with Parley's catch-ups (`inTurns`): the scan's rate moved 151,000–328,000 rows/s
    // between runs when it ran after all of them.
    const raw = scope.add(startStorageBaseline('sqlite'));
    for (const [i, run] of runs.entries()) {
      const ranges = run.devices.flatMap((d) => Object.entries(d.known).map(([conversationId, after]) => ({ conversationId, after })));
      // Only the conversations that changed: the same ones the device paged.
      const changed = i === 0 ? ranges.filter((r) => direct.includes(r.conversationId)) : ranges.filter((r) => groups.includes(r.conversationId));
      const scan = () => call<{ rows: number; rate: number }>(raw, { cmd: 'scan', file: storage.file, ranges: changed, limit: 200 });
      // Warmed up as Parley was: one scan of the same ranges, not measured (the first scans
      // of a fresh process ran at ~60% of the later ones' rate).
      await scan();
      const catchup = async () => {
        const { r, server: used, gen: load } = await spanOf(serverMeterOf(server), gen, () =>
          call<CatchupResult>(gen, { cmd: 'catchup', url: server.url, wsUrl: server.wsUrl, devices: run.devices, pageLimit: 200, parallel: W5_PAGES_IN_FLIGHT }),
        );
        return { r, serverCpu: used.share, serverFaults: used.faults, genCpu: load.share, genFaults: load.faults };
      };
      const turns = await inTurns(run.repeats, catchup, scan);
      const tries = turns.a;
      const scans = turns.b;
      // Each side's median; the rates are reported in the order they were taken (pairs of turns).
      const rates = tries.map((t) => t.r.rate);
      const median = [...tries].sort((a, b) => a.r.rate - b.r.rate)[Math.floor(tries.length / 2)]!;
      const m = { name: run.name, ...median, rates, missed: Math.max(...tries.map((t) => t.r.missed)), duplicates: Math.max(...tries.map((t) => t.r.duplicates)) };
      const baseline = [...scans].sort((a, b) => a.rate - b.rate)[Math.floor(scans.length / 2)]!;
      emit(
        result({
          workload: i === 0 ? 'W5/1' : `W5/${S.w5Devices}`,
          metric: `catch-up rows/s, ${m.name}`,
          engine: 'sqlite',
          parley: m.r.rate,
          baseline: baseline.rate,
          unit: 'rows/s',
          targetKind: 'min',
          targetValue: 0.5,
          server_cpu: round(m.serverCpu),
          server_faults_per_k: round((m.serverFaults / Math.max(1, m.r.rows)) * 1e3),
          gen_cpu: round(m.genCpu),
          gen_faults_per_k: round((m.genFaults / Math.max(1, m.r.rows)) * 1e3),
          rows: m.r.rows,
          baseline_rows: baseline.rows,
          requests: m.r.requests,
          retries: m.r.retries,
          seconds: round(m.r.seconds),
          ...(run.repeats > 1 ? { runs: run.repeats, parley_rates: m.rates.map(round), baseline_rates: scans.map((b) => round(b.rate)) } : {}),
        }),
      );
      emit(
        check({
          workload: i === 0 ? 'W5/1' : `W5/${S.w5Devices}`,
          metric: 'messages missed or duplicated in catch-up',
          engine: 'sqlite',
          parley: m.missed + m.duplicates,
          unit: 'messages',
          target: '= 0',
          met: m.missed === 0 && m.duplicates === 0 && m.r.rows === baseline.rows,
          missed: m.missed,
          duplicates: m.duplicates,
        }),
      );
    }
    await stopAndProfile(server, cpuProfDir, 'W5');
  } catch (err) {
    failed('W5', 'sqlite', err);
  } finally {
    await scope.close();
  }
}

/** A workload that could not run still reports, with its error (and the baseline, when that ran). */
function failed(workload: string, engine: Engine, err: unknown, baseline: { value: number; unit: string } | null = null): void {
  const message = String((err as Error).message ?? err);
  note(`${workload} on ${engine} failed: ${message}`);
  emit({
    workload,
    engine,
    metric: 'failed to run',
    parley: null,
    baseline: round(baseline?.value),
    unit: baseline?.unit ?? '',
    ratio: null,
    target: '',
    met: false,
    error: message.split('\n').slice(0, 3).join(' ').slice(0, 400),
  });
}

// ---------------------------------------------------------------------------------------

const WORKLOADS: Record<string, () => Promise<void>> = { W1: w1, W2: w2, W3: w3, W4: w4, W5: w5 };

pinSelf(LOAD_CORE);
const started = performance.now();
note(`${quick ? 'quick' : 'full'} run on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, node ${process.version}, engines ${ENGINES.join(', ')}${profileDir ? `, profiles in ${profileDir}` : ''}`);
for (const [id, run] of Object.entries(WORKLOADS)) {
  if (only && !only.includes(id)) continue;
  try {
    await run();
  } catch (err) {
    failed(id, 'sqlite', err);
  }
}
console.log(`\n${table(results)}\n`);
note(`done in ${round((performance.now() - started) / 1000)} s; JSON lines in ${path.relative(process.cwd(), outFile)}`);
process.exit(0);
