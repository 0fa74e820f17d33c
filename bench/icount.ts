/**
 * The server's instructions per delivery in a W3-like fan-out, counted by valgrind's
 * callgrind: `npm run bench:icount [-- groups size]` (default 20 groups of 10; needs Debian's
 * `valgrind`). Timings on this VM move 20–60% within the hour with nothing changed, which
 * hides a change worth 5%; an instruction count spreads over ~10% between runs (the group
 * commit's batches depend on timing), so several runs of each side tell a change apart.
 * Only user-space instructions are counted (not the kernel's socket writes or fsyncs), and
 * under valgrind the server runs ~30× slower, so its batches are bigger than at full speed:
 * compare two builds with it, never read it as a speed.
 *
 * The server runs under callgrind with instrumentation off through start-up and a 30-second
 * warm-up (JIT, caches), on for a 60-second measured fan-out, then dumps; prints one JSON line.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Api, freshStorage, openStorage, parleyEnv, pool, seedUsers, SERVER_NODE_ARGS } from './lib/parley.ts';
import { call, freePort, LOAD_CORE, ROOT, spawnPinned, waitFor } from './lib/proc.ts';

const GROUPS = Number(process.argv[2] ?? 20);
const SIZE = Number(process.argv[3] ?? 10);
try {
  execFileSync('valgrind', ['--version']);
} catch {
  console.error('bench:icount needs valgrind (apt-get install valgrind)');
  process.exit(2);
}

const storage = await freshStorage('sqlite');
const database = await openStorage(storage);
const users = await seedUsers(database, GROUPS * SIZE, 'ic');
await database.close();
const port = await freePort();
const outDir = mkdtempSync(path.join(tmpdir(), 'parley-icount-'));
const server = spawn(
  'taskset',
  ['-c', '0', 'valgrind', '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${outDir}/cg.%p`, process.execPath, ...SERVER_NODE_ARGS, '--import', 'tsx', 'packages/cli/src/main.ts', 'serve'],
  {
    cwd: ROOT,
    env: { ...process.env, ...parleyEnv(storage, port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  },
);
let err = '';
server.stderr!.on('data', (c) => (err += c));
const url = `http://127.0.0.1:${port}`;
const t0 = Date.now();
// Start-up under valgrind takes a while (tsx compiles the server's TypeScript).
try {
  await waitFor(async () => (await fetch(`${url}/v1/health`)).ok, 600_000, 'parley under valgrind: /v1/health');
} catch (e) {
  server.kill('SIGKILL');
  throw new Error(`${(e as Error).message}\n${err.slice(-2000)}`);
}
console.error(`server up in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
const api = new Api(url);
const gen = spawnPinned(LOAD_CORE, 'bench/load/client.ts', { ipc: true });
await call(gen, { cmd: 'connect', url: `ws://127.0.0.1:${port}/v1/ws`, protocol: 'parley', tokens: users.map((u) => u.token), concurrency: 10 });
const groups = Array.from({ length: GROUPS }, (_, g) => users.slice(g * SIZE, (g + 1) * SIZE));
const convs = await pool(groups, 2, (members) => api.group(members[0]!, members, "icount"));
const fan = (durationMs: number) =>
  call<{ deliveries: number; published: number }>(gen, {
    cmd: 'fanout',
    groups: groups.map((members, g) => ({ publisher: g * SIZE, target: convs[g], expected: members.length - 1 })),
    window: 2, // W3's
    warmupMs: 0,
    durationMs,
  });
await fan(30_000); // warm-up: JIT and caches
const serverPid = readdirSync(outDir).map((f) => Number(f.split('.')[1]))[0]!;
execFileSync('callgrind_control', ['-i', 'on', String(serverPid)]);
const r = await fan(60_000);
execFileSync('callgrind_control', ['-d', String(serverPid)]);
execFileSync('callgrind_control', ['-i', 'off', String(serverPid)]);
const dumps = readdirSync(outDir).filter((f) => f.includes('cg.'));
let ir = 0;
for (const f of dumps) {
  const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(path.join(outDir, f), 'utf8'));
  if (m) ir = Math.max(ir, Number(m[1]));
}
console.log(JSON.stringify({ root: ROOT, groups: GROUPS, size: SIZE, deliveries: r.deliveries, published: r.published, ir, irPerDelivery: Math.round(ir / r.deliveries), irPerMessage: Math.round(ir / r.published) }));
server.kill('SIGKILL');
await gen.kill('SIGKILL');
await storage.drop();
rmSync(outDir, { recursive: true, force: true });
process.exit(0);
