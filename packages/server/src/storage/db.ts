import path from 'node:path';
import { Migrator, type Compilable, type Kysely, type Selectable } from 'kysely';
import type pg from 'pg';
import type SQLite from 'better-sqlite3';
import type { DB, MessagesTable } from './schema.ts';
import { migrationProvider } from './migrations/index.ts';
import { openSqlite } from './dialects/sqlite.ts';
import { openPostgres } from './dialects/postgres.ts';
import { syncReaderOf } from './sync-reads.ts';

export type { DB } from './schema.ts';
export type Dialect = 'sqlite' | 'postgres';
export type Durability = 'full' | 'normal';

export interface Database {
  db: Kysely<DB>;
  /**
   * Where the send path's batches commit. PostgreSQL: a pool of its own (one connection per
   * write lane), so a batch holding row locks never waits behind request queries for a
   * connection. SQLite: `db` (one connection, one writer).
   */
  writer: Kysely<DB>;
  /** Connections of `writer` (the most batches that may commit at once). */
  writerLanes: number;
  dialect: Dialect;
  /** The driver underneath, for the few dialect-specific hot paths in storage/dialects. */
  raw: SQLite.Database | pg.Pool;
  /** The send path's batch writes, in each dialect's cheapest form (see MessageLog). */
  messageLog: MessageLog;
  /**
   * Run a send-path batch in one transaction on `writer`. Resolves once it committed, with
   * `durable`, which settles once the commit is on disk as the durability setting asks:
   * answer nobody (no ack, no event) before it. SQLite at `full` syncs the WAL in the
   * thread pool here rather than inside COMMIT, so the event loop keeps serving sockets
   * during the fsync and the next batch may commit meanwhile (its sync covers both).
   */
  commitBatch<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<{ value: T; durable: Promise<void> }>;
  /**
   * One write transaction on `db` (not the send path's), resolved once it is durable as the
   * durability setting asks. SQLite at `full`: committed as a batch is (the WAL synced in the
   * thread pool, one sync covering every commit before it), so the event loop keeps serving
   * sockets during the fsync, where COMMIT at synchronous=FULL would stop it for as long.
   * PostgreSQL: a transaction (its COMMIT is durable, and waits in another process).
   */
  write<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<T>;
  isUniqueViolation(err: unknown): boolean;
  /**
   * Calls `onChange` synchronously inside every write, whatever its code path, that can
   * change what a send is allowed to do (SQLite: `SEND_FACTS_TRIGGERS`), so a cache of the send
   * facts can be dropped before anything reads again. Only where every writer of the
   * database is this process (embedded SQLite: triggers of this connection); absent
   * elsewhere (PostgreSQL: other processes write too), and then nothing may be cached.
   * Once watched, `messageLog.listeners` keeps its answers between such changes too.
   */
  watchSendFacts?(onChange: () => void): void;
  /** The database is down or unreachable (answer 503, not 500). */
  isUnavailable(err: unknown): boolean;
  close(): Promise<void>;
}

export type MessageRow = Selectable<MessagesTable>;

/**
 * The hot path of the send path: a group-commit batch's reads and writes of the message
 * log, a few statements per batch rather than several per message. Every method runs
 * inside the batch's transaction `trx` (on SQLite through prepared statements of the one
 * connection, which that transaction holds; on PostgreSQL as one array-bound statement per
 * call on `trx`'s connection).
 */
export interface MessageLog {
  /** Envelopes already stored under any of these (sender device, clientId) pairs. */
  findByClientIds(trx: Kysely<DB>, keys: readonly { deviceId: string; clientId: string }[]): Promise<MessageRow[]>;
  /**
   * Take `count` seqs in each conversation: `last_seq += count` (the row lock on
   * PostgreSQL) and `updated_at = stamp`. Returns the new last_seq and the disappearing
   * timer; a conversation that does not exist is missing from the answer.
   */
  advanceSeqs(trx: Kysely<DB>, counts: ReadonlyMap<string, number>, stamp: string): Promise<Map<string, { lastSeq: number; disappearingSeconds: number }>>;
  insertMessages(trx: Kysely<DB>, rows: readonly MessageRow[]): Promise<void>;
  /**
   * A new message brings the conversation back to the inbox of every member who archived
   * it and did not mute it, except its sender: `senderId` null when several members sent.
   */
  unarchive(trx: Kysely<DB>, targets: readonly { conversationId: string; senderId: string | null }[], stamp: string): Promise<void>;
  /** Who hears of each conversation (members whose state is active or request). */
  listeners(trx: Kysely<DB>, conversationIds: readonly string[]): Promise<Map<string, string[]>>;
  /**
   * Optional (an engine where every statement is a round trip): a whole batch of plain
   * envelopes in one statement, with what `findByClientIds`, `appendEnvelopes` and
   * `listeners` would give, and the same rows, seqs and side effects. `stored`: envelopes
   * already stored under the entries' (device, clientId) pairs. An entry is new unless its
   * pair is stored or an earlier entry has it; `appended` holds the new entries' rows, in
   * the order of `entries` (seqs in that order per conversation, the disappearing timer
   * as it stands, the unarchive rule), and `listeners` who hears of their conversations.
   * A conversation that does not exist fails the whole statement (`not_found`).
   *
   * Being one statement it is atomic on its own: as the first statement of a batch whose
   * only statement it is, it runs without BEGIN/COMMIT (see the dialect).
   */
  appendPlain?(trx: Kysely<DB>, entries: readonly PlainEnvelope[], stamp: string): Promise<{ stored: MessageRow[]; appended: MessageRow[]; listeners: Map<string, string[]> }>;
}

/** A user's envelope with nothing to write but itself (no attachments, not an edit, no request). */
export interface PlainEnvelope {
  conversationId: string;
  senderId: string;
  senderDeviceId: string;
  clientId: string;
  kind: string;
  refTarget?: string | null;
  refReplyTo?: string | null;
  encoding: string | null;
  data: string | null;
}

/** The row a plain envelope is stored as, once its id, seq and expiry are known (every batch form builds it so). */
export function plainRow(e: PlainEnvelope, id: string, seq: number, stamp: string, expiresAt: string | null): MessageRow {
  return {
    id,
    conversation_id: e.conversationId,
    seq,
    sender_id: e.senderId,
    sender_device_id: e.senderDeviceId,
    client_id: e.clientId,
    kind: e.kind,
    ref_target: e.refTarget ?? null,
    ref_reply_to: e.refReplyTo ?? null,
    encoding: e.encoding,
    data: e.data,
    attachment_ids: '[]',
    created_at: stamp,
    edited_at: null,
    deleted_at: null,
    expires_at: expiresAt,
  };
}

export interface StorageOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  durability: Durability;
}

/** Open the configured database and bring its schema up to date. */
export async function openDatabase(options: StorageOptions): Promise<Database> {
  const database = options.databaseUrl
    ? openPostgres(options.databaseUrl, options.durability)
    : openSqlite(path.join(options.dataDir, 'parley.db'), options.durability);
  try {
    await migrate(database.db);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}

export async function migrate(db: Kysely<DB>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${(error as Error)?.message ?? 'unknown error'}`, { cause: error });
  }
}

/** Booleans are stored as 0/1 on both engines. */
export const toBool = (v: number | boolean | null | undefined) => v === 1 || v === true;
export const fromBool = (v: boolean) => (v ? 1 : 0);

/** Names of the precompiled statements' SQL texts (PostgreSQL prepares each once per connection under its name). */
const statementNames = new Map<string, string>();

function nameStatement(text: string): void {
  if (!statementNames.has(text)) statementNames.set(text, `parley_${statementNames.size + 1}`);
}

/** The name a precompiled statement is prepared under, or undefined for any other SQL text. */
export const statementName = (text: string): string | undefined => statementNames.get(text);

/**
 * A query built and compiled once, then run many times with new values: for the few
 * queries that run on every message, where building and compiling through Kysely costs more
 * than running the statement (on SQLite the text then hits the statement cache too).
 * `build` is called once, with placeholders standing for the arguments; each argument must
 * reach the query as a bound value, unchanged (checked here). It must be a read.
 */
export function precompile<A extends string[], R>(arity: A['length'], build: (...args: A) => Compilable<R>): (db: Kysely<DB>, ...args: A) => Promise<R[]> {
  const marks = Array.from({ length: arity }, (_, i) => `\u0000precompiled-${i}\u0000`) as A;
  const compiled = build(...marks).compile();
  nameStatement(compiled.sql);
  const slots = compiled.parameters.map((p) => marks.indexOf(p as string));
  for (let i = 0; i < arity; i++) if (!slots.includes(i)) throw new Error(`precompile: argument ${i} is not a bound value of the query`);
  return async (db, ...args) => {
    const parameters = compiled.parameters.map((p, k) => (slots[k]! >= 0 ? args[slots[k]!] : p));
    // SQLite with its connection free: run the statement now rather than through Kysely's
    // executor (its connection lock and promise chain cost more than the lookup itself).
    const now = syncReaderOf(db)?.(compiled.sql, parameters);
    if (now) return now as R[];
    const { rows } = await db.executeQuery<R>({ ...compiled, parameters });
    return rows;
  };
}
