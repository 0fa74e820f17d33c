/**
 * What the adversarial suites share: the soak switch, a real server in a child process
 * (to kill it, measure its memory and read its logs), and checks on error answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, ERROR_STATUS, type ErrorCode } from '@parley/protocol';
import { expect } from 'vitest';

/** PARLEY_SOAK=1 runs the long variants: more generated cases, more kills, more sockets. */
export const SOAK = process.env.PARLEY_SOAK === '1';
export const soak = <T>(short: T, long: T): T => (SOAK ? long : short);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const CLI = path.join(ROOT, 'packages/cli/src/main.ts');

export interface Spawned {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Every line the process wrote (stdout and stderr). */
  lines: string[];
  /** Resident memory of the process, in bytes (Linux /proc). */
  rss(): number;
  /** Resolves once the process has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A TCP port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Start `parley serve` as its own process, the way an operator runs it; resolves once it
 * answers /v1/health. Startup is slow on a loaded machine (tsx compiles on the fly): allow it.
 */
export async function spawnServer(env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<Spawned> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PARLEY_HOST: '127.0.0.1', PARLEY_LOG_LEVEL: 'info', ...env, PARLEY_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line) lines.push(line);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      if (partial) lines.push(partial);
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    if (exitCode !== undefined) throw new Error(`server exited with ${exitCode} before listening:\n${lines.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start:\n${lines.join('\n')}`);
    }
    const ok = await fetch(`${url}/v1/health`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid!,
    child,
    lines,
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)![1]) * 1024;
    },
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * An answer to hostile input: never a 5xx; an error has the API's shape, a code from
 * ERROR_CODES whose status is the one sent, and no stack trace or file path.
 */
export function expectWellFormedAnswer(res: { status: number; text: string; method: string }, context: string): void {
  expect(res.status, `${context}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status < 400 || res.method === 'HEAD') return;
  let body: { error?: { code?: string; message?: string } };
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    throw new Error(`${context}: ${res.status} with a body that is not JSON: ${res.text.slice(0, 200)}`);
  }
  const code = body.error?.code;
  expect(ERROR_CODES as readonly string[], `${context}: code ${code}`).toContain(code);
  expect(ERROR_STATUS[code as ErrorCode], `${context}: status of ${code}`).toBe(res.status);
  expect(typeof body.error?.message, context).toBe('string');
  expect(res.text, context).not.toMatch(/\n\s+at |node_modules|\/work\/|\.ts:\d+/);
}

/** Send and read an answer without throwing on any status. */
export async function send(base: string, method: string, urlPath: string, init: { headers?: Record<string, string>; body?: string | Uint8Array } = {}) {
  const res = await fetch(base + urlPath, { method, headers: init.headers, body: init.body as string | undefined });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, method };
}

export interface PrivatePostgres {
  url: string;
  /** Restart the cluster; `immediate` is a crash (no checkpoint), recovered from the WAL. */
  restart(mode?: 'fast' | 'immediate', downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const run = (cmd: string, args: string[]) =>
  new Promise<string>((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`))));
  });

/** The PostgreSQL binaries of this machine, or null (then the suites that need a private cluster skip). */
export function postgresBin(): string | null {
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort();
    const bin = `/usr/lib/postgresql/${versions[versions.length - 1]}/bin`;
    return existsSync(`${bin}/initdb`) ? bin : null;
  } catch {
    return null;
  }
}

async function freePortBelowEphemeral(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    const server = createNetServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
}

/**
 * A PostgreSQL cluster of our own, in a temp dir on a free port, so restarting it under
 * load disturbs no one else's tests. Runs as the postgres user (initdb refuses root).
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('no PostgreSQL binaries');
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-pg-'));
  const asPostgres = process.getuid?.() === 0 ? (args: string[]) => run('runuser', ['-u', 'postgres', '--', ...args]) : (args: string[]) => run(args[0]!, args.slice(1));
  if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', dir]);
  await asPostgres([`${bin}/initdb`, '-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  // A port below the kernel's ephemeral range (32768–60999 here), so that no outgoing
  // connection of a busy test run can hold it while the cluster is down for a restart;
  // checked free, and another one tried if the cluster still cannot bind it.
  let port = 0;
  const start = () => asPostgres([`${bin}/pg_ctl`, '-D', `${dir}/data`, '-l', `${dir}/log`, '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`, 'start']);
  for (let attempt = 1; ; attempt++) {
    port = await freePortBelowEphemeral();
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    restart: async (mode = 'fast', downMs = 500) => {
      await asPostgres([`${bin}/pg_ctl`, '-D', `${dir}/data`, '-m', mode, '-w', 'stop']);
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    stop: async () => {
      await asPostgres([`${bin}/pg_ctl`, '-D', `${dir}/data`, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
