/**
 * Processes of a benchmark: each side (server, baseline, load generator) runs in its own
 * process pinned to its own core, and is measured from the outside through /proc.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The core the server side runs on, and the one the load generator runs on. */
export const SERVER_CORE = 0;
export const LOAD_CORE = 1;

/**
 * Keep this process (the orchestrator: every thread it has and will have) off the server's
 * core. Unpinned, its own garbage collections ran there now and then, in the middle of the
 * server's measured phases.
 */
export function pinSelf(core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
}

let clockTicks: number | undefined;
/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
export function clkTck(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/**
 * User + system CPU ticks of a process (all its threads) from the text of /proc/<pid>/stat.
 * The command name (field 2) may contain spaces and parentheses, so fields are counted
 * from the last ')'.
 */
export function parseStatTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc stat: ${stat.slice(0, 80)}`);
  return utime + stime;
}

/** Resident set size in bytes from the text of /proc/<pid>/status. */
export function parseRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error('no VmRSS in /proc status');
  return Number(m[1]) * 1024;
}

/**
 * Minor page faults of a process (all its threads; field 10 of /proc/<pid>/stat): memory
 * touched for the first time. On this VM each costs ~15 µs, so a server that takes fresh
 * memory for what it sends shows here (docs/PERFORMANCE.md, the seventh pass).
 */
export function parseStatMinorFaults(stat: string): number {
  const faults = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
  if (!Number.isFinite(faults)) throw new Error(`unreadable /proc stat: ${stat.slice(0, 80)}`);
  return faults;
}

/** Nanoseconds a thread has run, the first field of /proc/<pid>/task/<tid>/schedstat. */
export function parseSchedstatNs(schedstat: string): number {
  const ns = Number(schedstat.split(' ')[0]);
  if (!Number.isFinite(ns)) throw new Error(`unreadable schedstat: ${schedstat.slice(0, 80)}`);
  return ns;
}

/**
 * CPU seconds a process has used: the sum of its threads' run time in nanoseconds
 * (schedstat), where /proc/<pid>/stat counts in clock ticks of 10 ms, too coarse for a
 * catch-up that lasts 25 ms (W5/1 once read a server at 1.21 cores and its generator at 0).
 * Threads that have exited are no longer counted: the measured processes keep theirs.
 * Falls back to the ticks where the kernel keeps no schedstat.
 */
export function cpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += parseSchedstatNs(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8'));
      } catch (err) {
        // A thread that ended between the listing and the read.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    return ns / 1e9;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clkTck();
  }
}

function minorFaults(pid: number): number {
  return parseStatMinorFaults(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

export function rssBytes(pid: number): number {
  return parseRssBytes(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/**
 * CPU seconds used by a set of processes between start() and read(), and the wall time.
 * `onSpan` hears of each measured span (performance.now() values), e.g. to clip a profile.
 */
export class CpuMeter {
  private startCpu = 0;
  private startFaults = 0;
  private startWall = 0;
  constructor(
    private readonly pids: () => number[],
    private readonly onSpan?: (from: number, to: number) => void,
  ) {}

  start(): void {
    this.startCpu = this.total();
    this.startFaults = this.faults();
    this.startWall = performance.now();
  }

  /** { cpu: CPU seconds, wall: seconds, share: cores busy on average, faults: minor page faults } */
  read(): { cpu: number; wall: number; share: number; faults: number } {
    const cpu = this.total() - this.startCpu;
    const faults = this.faults() - this.startFaults;
    const now = performance.now();
    this.onSpan?.(this.startWall, now);
    const wall = (now - this.startWall) / 1000;
    return { cpu, wall, share: wall > 0 ? cpu / wall : 0, faults };
  }

  private total(): number {
    return this.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  }

  private faults(): number {
    return this.pids().reduce((sum, pid) => sum + minorFaults(pid), 0);
  }
}

export interface Pinned {
  child: ChildProcess;
  pid: number;
  /** performance.now() when it was spawned: profile sample times are relative to about this. */
  startedAt: number;
  /** The last chunks the process wrote to stderr, and to stdout (the server's logs), kept for error reports. */
  stderr: string[];
  stdout: string[];
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Start `node [nodeArgs] script` pinned to one core with `taskset` (which execs node, so
 * the pid is node's). With `ipc`, the child can exchange messages with this process.
 */
export function spawnPinned(
  core: number,
  script: string,
  options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; ipc?: boolean; args?: string[] } = {},
): Pinned {
  const startedAt = performance.now();
  const child = spawn(
    'taskset',
    ['-c', String(core), process.execPath, ...(options.nodeArgs ?? []), '--import', 'tsx', script, ...(options.args ?? [])],
    {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
    },
  );
  // Both pipes drained (a full pipe would block the child), their last chunks kept.
  const tail = (stream: NodeJS.ReadableStream, kept: string[]) =>
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      kept.push(chunk);
      if (kept.length > 200) kept.shift();
    });
  const stderr: string[] = [];
  const stdout: string[] = [];
  tail(child.stderr!, stderr);
  tail(child.stdout!, stdout);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    pid: child.pid!,
    startedAt,
    stderr,
    stdout,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Request/response over a child's IPC channel: send a command, await its one reply. */
export async function call<T>(p: Pinned, command: Record<string, unknown>, timeoutMs = 600_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (msg: { ok: boolean; result?: T; error?: string }) => {
      cleanup();
      if (msg.ok) resolve(msg.result as T);
      else reject(new Error(`${String(command.cmd)} failed in pid ${p.pid}: ${msg.error}`));
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`process ${p.pid} exited (${code}) during ${String(command.cmd)}: ${p.stderr.join('').slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${String(command.cmd)} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      p.child.off('message', onMessage);
      p.child.off('exit', onExit);
    };
    p.child.on('message', onMessage);
    p.child.on('exit', onExit);
    p.child.send(command);
  });
}

/**
 * The child's side of `call`: run each command through `handler`, one at a time, and
 * reply with its result or error.
 */
export function serveCommands(handler: (command: Record<string, unknown> & { cmd: string }) => Promise<unknown>): void {
  let queue = Promise.resolve();
  process.on('message', (command: Record<string, unknown> & { cmd: string }) => {
    queue = queue.then(async () => {
      try {
        const result = await handler(command);
        process.send!({ ok: true, result });
      } catch (err) {
        process.send!({ ok: false, error: (err as Error).stack ?? String(err) });
      }
    });
  });
  process.on('disconnect', () => process.exit(0));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `probe` resolves true, or throw after `timeoutMs`. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A TCP port that was free a moment ago (for servers configured by environment), below the
 * kernel's own range (`ephemeralPorts`), where nothing but an explicit request can take it.
 */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  const [low] = ephemeralPorts();
  for (let attempt = 0; ; attempt++) {
    const port = FIXED_PORTS_FROM + Math.floor(Math.random() * (low - FIXED_PORTS_FROM));
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
    if (attempt >= 100) throw new Error(`no free port found between ${FIXED_PORTS_FROM} and ${low}`);
  }
}

/** Where `freePort` looks: above the well-known and most registered services' ports. */
const FIXED_PORTS_FROM = 10_000;

/**
 * The kernel's range for ports it picks itself (a listener on port 0, such as `--inspect`'s,
 * or a connecting socket). `freePort` stays below it: a port picked there was once handed
 * to W1's server inspector a moment after it was found free, and the server could not listen.
 */
export function ephemeralPorts(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low! > FIXED_PORTS_FROM + 1000 && high! >= low!) return [low!, high!];
  } catch {
    // Not Linux, or not readable: the usual default.
  }
  return [32_768, 60_999];
}

/** The hard limit on open files of this process (children inherit it). */
export function fdHardLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (!m) return 1024;
  return m[2] === 'unlimited' ? 1_048_576 : Number(m[2]);
}
