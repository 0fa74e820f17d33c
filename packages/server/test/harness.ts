/**
 * Integration harness: real databases, a real listening server, real HTTP and sockets.
 *
 * PostgreSQL suites run against PARLEY_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test),
 * each in a fresh database of its own. Outside CI they are skipped when PostgreSQL is not
 * reachable; under CI=true an unreachable PostgreSQL fails the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { createServer, type ParleyServer, type ServerOptions } from '../src/main.ts';
import { testConfig, type Config } from '../src/config/config.ts';
import { openDatabase, type Database, type Dialect, type Durability } from '../src/storage/db.ts';

export const PG_URL = process.env.PARLEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const IN_CI = process.env.CI === 'true';

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

let pgChecked: Promise<boolean> | undefined;
export async function postgresAvailable(): Promise<boolean> {
  pgChecked ??= reachable(PG_URL).then((ok) => {
    if (!ok && IN_CI) throw new Error(`CI=true but PostgreSQL is not reachable at ${PG_URL}`);
    return ok;
  });
  return pgChecked;
}

/** The dialects this run covers: SQLite always, PostgreSQL when reachable (always under CI). */
export const DIALECTS: Dialect[] = (await postgresAvailable()) ? ['sqlite', 'postgres'] : ['sqlite'];

/** A fresh, empty place for one suite's data: a temp dir, and for PostgreSQL a new database. */
export async function freshStorage(dialect: Dialect): Promise<{ dataDir: string; databaseUrl?: string; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-test-'));
  if (dialect === 'sqlite') {
    return { dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `parley_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
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

/** A migrated database on fresh storage, without a server; `drop` closes it and removes the storage. */
export type FreshDatabase = Database & { drop(): Promise<void> };

export async function freshDatabase(dialect: Dialect, durability: Durability = 'full'): Promise<FreshDatabase> {
  const storage = await freshStorage(dialect);
  const database = await openDatabase({ dataDir: storage.dataDir, databaseUrl: storage.databaseUrl, durability });
  return Object.assign(database, {
    drop: async () => {
      await database.close();
      await storage.drop();
    },
  });
}

export interface TestServer {
  server: ParleyServer;
  config: Config;
  url: string;
  wsUrl: string;
  api: Api;
  close(): Promise<void>;
}

/** Start a real server on a random port over fresh storage of the dialect. */
export async function startTestServer(dialect: Dialect, overrides: Partial<Config> = {}, options: ServerOptions & { logger?: Logger } = {}): Promise<TestServer> {
  const storage = await freshStorage(dialect);
  const config = testConfig({ port: 0, host: '127.0.0.1', logLevel: 'silent', dataDir: storage.dataDir, databaseUrl: storage.databaseUrl, ...overrides });
  const server = await createServer(config, { logger: options.logger ?? pino({ level: process.env.PARLEY_TEST_LOG ?? 'silent' }), ...options });
  const url = await server.listen();
  return {
    server,
    config,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/v1/ws`,
    api: new Api(url),
    close: async () => {
      await server.close();
      await storage.drop();
    },
  };
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** The content of a plain text message, as the SDK writes it. */
export const plainText = (text: string) => ({ encoding: 'plain', data: JSON.stringify({ type: 'text', text }) });
let sent = 0;

/** A plain HTTP client over fetch, the way any client would call the API. */
export class Api {
  constructor(readonly base: string) {}

  async call<T = any>(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    const res = await fetch(this.base + path, { method, headers, body });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get = <T = any>(path: string, token?: string) => this.call<T>('GET', path, { token });
  post = <T = any>(path: string, body: unknown, token?: string) => this.call<T>('POST', path, { body, token });
  patch = <T = any>(path: string, body: unknown, token?: string) => this.call<T>('PATCH', path, { body, token });
  put = <T = any>(path: string, body: unknown, token?: string) => this.call<T>('PUT', path, { body, token });
  delete = <T = any>(path: string, token?: string, body?: unknown) => this.call<T>('DELETE', path, { token, body });

  /** Send a message (`content` defaults to a plain text) with a fresh clientId; its seq (throws unless 201). */
  async send(sender: { token: string }, conversationId: string, content: { encoding: string; data: string } = plainText('x')): Promise<number> {
    const res = await this.post(`/v1/conversations/${conversationId}/messages`, { clientId: `t-${Date.now().toString(36)}-${sent++}`, kind: 'message', content }, sender.token);
    if (res.status !== 201) throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.seq as number;
  }

  /** `a` asks `b` to connect and `b` accepts: the two are connections (throws if either step fails). */
  async connect(a: { id: string; token: string }, b: { id: string; token: string }): Promise<void> {
    const asked = await this.post(`/v1/connections/${b.id}`, {}, a.token);
    if (asked.status >= 300) throw new Error(`connection request failed: ${asked.status} ${JSON.stringify(asked.body)}`);
    const accepted = await this.post(`/v1/connections/${a.id}/accept`, {}, b.token);
    if (accepted.status >= 300) throw new Error(`connection accept failed: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  }

  /** Sign up a user with a unique name; returns what a client keeps. */
  async signUp(prefix = 'user', extra: Record<string, unknown> = {}): Promise<{ id: string; username: string; token: string; sessionId: string }> {
    const username = `${prefix}_${Math.random().toString(36).slice(2, 10)}`.slice(0, 32);
    const res = await this.post('/v1/accounts', { username, password: 'correct horse battery', ...extra });
    if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.user.id, username, token: res.body.session.token, sessionId: res.body.session.id };
  }
}
