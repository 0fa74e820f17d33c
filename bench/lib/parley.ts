/**
 * Parley under test: fresh storage, fixtures, a real server process started the way an
 * operator starts it (`parley serve`, configured by environment), and a small HTTP client.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hash } from '@node-rs/argon2';
import pg from 'pg';
import { openDatabase, type Database } from '@parley/server';
import { uuidv7, nowIso } from '../../packages/server/src/ids.ts';
import { freePort, ROOT, spawnPinned, SERVER_CORE, waitFor, type Pinned } from './proc.ts';

export type Engine = 'sqlite' | 'postgres';
export const PG_URL = process.env.PARLEY_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface Storage {
  engine: Engine;
  dataDir: string;
  databaseUrl?: string;
  /** For SQLite: the database file. */
  file?: string;
  drop(): Promise<void>;
}

/** An empty data dir, and for PostgreSQL a database of its own, dropped afterwards. */
export async function freshStorage(engine: Engine): Promise<Storage> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-bench-'));
  if (engine === 'sqlite') {
    return { engine, dataDir, file: path.join(dataDir, 'parley.db'), drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `parley_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    engine,
    dataDir,
    databaseUrl: url.toString(),
    drop: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** Open the storage with the server's own code, so the schema is the real migrated one. */
export function openStorage(storage: Storage): Promise<Database> {
  return openDatabase({ dataDir: storage.dataDir, databaseUrl: storage.databaseUrl, durability: 'full' });
}

export interface SeededUser {
  id: string;
  username: string;
  token: string;
}

let passwordHash: Promise<string> | undefined;
export const BENCH_PASSWORD = 'bench password';

/**
 * Users and one session each, written straight into the database as the accounts module
 * writes them (a SHA-256 of the token; one real argon2id hash shared by all, so every
 * account can still sign in). Signing 20,000 people up through the API would spend
 * half an hour in argon2 alone, which is not what any workload measures.
 */
export async function seedUsers(database: Database, count: number, prefix: string): Promise<SeededUser[]> {
  passwordHash ??= hash(BENCH_PASSWORD, { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  const pwd = await passwordHash;
  const users: SeededUser[] = [];
  const now = nowIso();
  for (let start = 0; start < count; start += 500) {
    const batch: SeededUser[] = [];
    for (let i = start; i < Math.min(count, start + 500); i++) {
      batch.push({ id: uuidv7(), username: `${prefix}${i}`, token: randomBytes(32).toString('base64url') });
    }
    await database.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('users')
        .values(
          batch.map((u) => ({
            id: u.id,
            username: u.username,
            display_name: u.username,
            bio: '',
            password_hash: pwd,
            who_can_message: 'everyone',
            // Benchmark people are strangers to each other; they may still be put in groups.
            who_can_add_to_groups: 'everyone',
            read_receipts: 1,
            presence: 'connections',
            last_seen_at: null,
            external_id: null,
            created_at: now,
            deleted_at: null,
          })),
        )
        .execute();
      await trx
        .insertInto('sessions')
        .values(
          batch.map((u) => ({
            id: uuidv7(),
            user_id: u.id,
            token_hash: createHash('sha256').update(u.token).digest('hex'),
            device_name: 'bench',
            created_at: now,
            last_active_at: now,
          })),
        )
        .execute();
    });
    users.push(...batch);
  }
  return users;
}

export interface ParleyProcess extends Pinned {
  url: string;
  wsUrl: string;
}

/** How the benchmarks configure `parley serve`: this storage, this port, no rate limits, logs at warn. */
export function parleyEnv(storage: Storage, port: number): NodeJS.ProcessEnv {
  return {
    PARLEY_PORT: String(port),
    PARLEY_HOST: '127.0.0.1',
    PARLEY_DATA_DIR: storage.dataDir,
    DATABASE_URL: storage.databaseUrl ?? '',
    REDIS_URL: '',
    PARLEY_LOG_LEVEL: 'warn',
    PARLEY_SENDS_PER_MINUTE: '1000000',
    PARLEY_TYPING_PER_MINUTE: '1000000',
    PARLEY_WS_AUTH_TIMEOUT_MS: '600000',
  };
}

/**
 * The node flags `npm start` runs the server with (package.json's start script, between
 * `node` and `--import`): the benchmarks run the server as an operator's `npm start` does.
 */
export const SERVER_NODE_ARGS: string[] = (() => {
  const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  return start.slice(start.indexOf('node') + 1, start.indexOf('--import'));
})();

/**
 * `parley serve` pinned to the server core, with the node flags of `npm start`. Sends are
 * not rate-limited (a benchmark is one very busy user), and logs are at warn: per-request
 * info lines would measure pino's pipe.
 */
export async function startParley(storage: Storage, options: { cpuProfDir?: string | undefined; nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<ParleyProcess> {
  const port = await freePort();
  const nodeArgs = [...SERVER_NODE_ARGS, ...(options.nodeArgs ?? []), ...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [])];
  const proc = spawnPinned(SERVER_CORE, 'packages/cli/src/main.ts', { nodeArgs, args: ['serve'], env: { ...parleyEnv(storage, port), ...options.env } });
  const url = `http://127.0.0.1:${port}`;
  try {
    // A server that exits while starting (a port taken, a bad setting) says so at once.
    await Promise.race([
      waitFor(async () => (await fetch(`${url}/v1/health`)).ok, 60_000, 'parley /v1/health'),
      proc.exited.then((code) => {
        throw new Error(`parley exited (${code}) before /v1/health answered`);
      }),
    ]);
  } catch (err) {
    await proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\nstderr: ${proc.stderr.join('').slice(-2000)}\nstdout: ${proc.stdout.join('').slice(-2000)}`);
  }
  return { ...proc, url, wsUrl: `ws://127.0.0.1:${port}/v1/ws` };
}

/** The HTTP API as a client uses it; any non-2xx is an error that names the call. */
export class Api {
  constructor(private readonly base: string) {}

  async call<T>(method: string, pathname: string, token: string, body?: unknown): Promise<T> {
    const res = await fetch(this.base + pathname, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A direct conversation from a to b, accepted by b (so it is not a capped message request). */
  async direct(a: SeededUser, b: SeededUser): Promise<string> {
    const conv = await this.call<{ id: string; members: { userId: string; state: string }[] }>('POST', '/v1/conversations', a.token, { type: 'direct', userId: b.id });
    if (conv.members.some((m) => m.userId === b.id && m.state === 'request')) {
      await this.call('POST', `/v1/conversations/${conv.id}/accept`, b.token);
    }
    return conv.id;
  }

  /** A group owned by `owner` with `members` (added 200 at a time, the API's page). */
  async group(owner: SeededUser, members: SeededUser[], title: string): Promise<string> {
    const others = members.filter((m) => m.id !== owner.id);
    const conv = await this.call<{ id: string }>('POST', '/v1/conversations', owner.token, { type: 'group', title, memberIds: others.slice(0, 200).map((m) => m.id) });
    for (let i = 200; i < others.length; i += 200) {
      await this.call('POST', `/v1/conversations/${conv.id}/members`, owner.token, { userIds: others.slice(i, i + 200).map((m) => m.id) });
    }
    return conv.id;
  }
}

/** Run `fn` over items with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
