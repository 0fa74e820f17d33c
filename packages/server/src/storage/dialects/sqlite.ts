import { mkdirSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, SqliteDriver, type DatabaseConnection, type SqliteDialectConfig, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { DB } from '../schema.ts';
import type { Database, Durability, MessageLog, MessageRow } from '../db.ts';
import { registerSyncReader } from '../sync-reads.ts';
import { Checkpointer, WAL_KEPT_BYTES } from './checkpointer.ts';

/**
 * The writes that can change a send's facts (conversations/send-facts.ts): who is a member
 * and how (their state, role, when they joined, their request count), blocks, deleted
 * accounts, deleted conversations. Markers, mutes, archives and pins do not.
 */
const SEND_FACTS_TRIGGERS = [
  'after insert on main.members',
  'after delete on main.members',
  'after update of state, role, joined_seq, request_sent, user_id, conversation_id on main.members',
  'after insert on main.blocks',
  'after delete on main.blocks',
  'after update on main.blocks',
  'after update of deleted_at, id on main.users',
  'after delete on main.users',
  'after delete on main.conversations',
  'after update of type, id on main.conversations',
] as const;

/**
 * Who hears of each conversation (its active and requested members), kept between changes
 * once the send facts are watched: the same triggers (SEND_FACTS_TRIGGERS: any member added,
 * removed or changing state) drop them. Read synchronously inside the batch's transaction, so
 * no change can land between a read and its keeping.
 */
interface KeptListeners {
  byConversation: Map<string, string[]> | null;
}
const KEPT_LISTENERS_MAX = 100_000;

/** Distinct SQL texts kept prepared; Kysely emits one text per query shape (values are bound). */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Reads made outside a transaction share one read transaction until the event loop's turn
 * ends. In WAL mode every transaction takes and drops a read lock on the shared-memory
 * index (two fcntl calls, ≈ 5 µs here: more than the indexed lookup itself), so a query
 * in autocommit mode pays that each time; a burst of requests now pays it once. The shared
 * transaction ends before anything else runs on the connection (a write, BEGIN, a pragma,
 * a streaming read), so every read still sees every write this connection committed
 * before it, and it never holds a snapshot past the current turn of the event loop.
 */
export class SharedReads {
  /** The shared read transaction is open (and so the connection's transaction is ours). */
  open = false;
  /** A streaming read is open: the connection cannot run anything else until it ends. */
  busy = 0;
  private scheduled = false;

  constructor(private readonly raw: SQLite.Database) {}

  /** Before a read outside a transaction: join the shared read transaction (opening it). */
  enter(): void {
    if (this.open || this.raw.inTransaction) return;
    this.raw.exec('begin');
    this.open = true;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.end();
      });
    }
  }

  /** Marks the connection busy while `rows` is being read. */
  *streaming(rows: IterableIterator<unknown>): IterableIterator<unknown> {
    this.busy++;
    try {
      yield* rows;
    } finally {
      this.busy--;
    }
  }

  /** End the shared read transaction, if one is open: before anything but a plain read. */
  end(): void {
    if (!this.open) return;
    this.open = false;
    if (this.raw.inTransaction) this.raw.exec('commit');
  }
}

/**
 * The better-sqlite3 handle as Kysely sees it, with `prepare` memoized by SQL text.
 * Kysely's SQLite driver prepares every statement anew, and compiling the same text again
 * for every query was a fifth of the server's CPU (docs/PERFORMANCE.md). A cached
 * statement is safe to reuse: the driver runs one query at a time on this connection, and
 * `all`/`run` finish before they return. `iterate` (streaming) keeps a statement busy until
 * the caller stops reading, so it gets a statement of its own. Reads outside a transaction
 * join `reads` (see SharedReads).
 */
export function cachedStatements(raw: SQLite.Database, reads = new SharedReads(raw), size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      reads.end();
      cache.clear();
      raw.close();
    },
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) {
        // Most recently used last: the Map's order is the eviction order.
        cache.delete(sql);
        cache.set(sql, stmt);
        return stmt;
      }
      const prepared = raw.prepare(sql);
      // A statement that only reads (not `insert … returning`: a reader, but it writes) joins
      // the shared read transaction; anything else ends it first.
      const before = prepared.reader && prepared.readonly ? () => reads.enter() : () => reads.end();
      stmt = {
        reader: prepared.reader,
        all: (parameters) => {
          before();
          return prepared.all(parameters);
        },
        run: (parameters) => {
          before();
          return prepared.run(parameters);
        },
        iterate: (parameters) => {
          reads.end();
          return reads.streaming(raw.prepare(sql).iterate(parameters) as IterableIterator<unknown>);
        },
      };
      cache.set(sql, stmt);
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
      return stmt;
    },
  };
}

/**
 * Kysely's SQLite driver with a first-come, first-served lock on its one connection.
 * Kysely's own lock wakes every waiter at each release (each then finds it taken again and
 * waits anew), so with N queries queued — a storm of connects or disconnects — each query
 * cost O(N) wake-ups; here a release hands the connection to the next waiter only.
 */
class FifoSqliteDriver extends SqliteDriver {
  private connection: DatabaseConnection | undefined;
  private held = false;
  private readonly waiters: (() => void)[] = [];

  override async init(): Promise<void> {
    await super.init();
    // The one connection, taken once from the base driver (whose lock is then never used).
    this.connection = await super.acquireConnection();
    await super.releaseConnection();
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    if (this.held) await new Promise<void>((resolve) => this.waiters.push(resolve));
    // Handed over by releaseConnection, still held; or free and taken now.
    else this.held = true;
    return this.connection!;
  }

  override async releaseConnection(): Promise<void> {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }
}

class FifoSqliteDialect extends SqliteDialect {
  constructor(private readonly driverConfig: SqliteDialectConfig) {
    super(driverConfig);
  }

  override createDriver(): SqliteDriver {
    return new FifoSqliteDriver(this.driverConfig);
  }
}

const MESSAGE_COLUMNS = [
  'id', 'conversation_id', 'seq', 'sender_id', 'sender_device_id', 'client_id', 'kind', 'ref_target', 'ref_reply_to',
  'encoding', 'data', 'attachment_ids', 'created_at', 'edited_at', 'deleted_at', 'expires_at',
] as const satisfies readonly (keyof MessageRow)[];

/**
 * The batch writes through prepared statements of the raw handle, executed once per row or
 * conversation: in-process SQLite has no round trip to save, and a prepared statement run
 * costs a few microseconds where building a query through Kysely costs a few hundred.
 * Only ever called inside a Kysely transaction, which holds the one connection.
 */
function sqliteMessageLog(raw: SQLite.Database, kept: KeptListeners): MessageLog {
  // Prepared on first use: the tables exist only once the migrations ran.
  let s: ReturnType<typeof prepare> | undefined;
  function prepare() {
    return {
      find: raw.prepare<[string, string], MessageRow>('select * from messages where sender_device_id = ? and client_id = ?'),
      advance: raw.prepare<[number, string, string], { last_seq: number; disappearing_seconds: number }>(
        'update conversations set last_seq = last_seq + ?, updated_at = ? where id = ? returning last_seq, disappearing_seconds',
      ),
      insert: raw.prepare<unknown[]>(`insert into messages (${MESSAGE_COLUMNS.join(', ')}) values (${MESSAGE_COLUMNS.map(() => '?').join(', ')})`),
      unarchive: raw.prepare<[string, string, string | null, string | null, string]>(
        `update members set archived = 0, updated_at = ?
          where conversation_id = ? and archived = 1 and (? is null or user_id != ?)
            and (muted = 0 or (muted_until is not null and muted_until <= ?))`,
      ),
      listeners: raw.prepare<[string], string>("select user_id from members where conversation_id = ? and state in ('active', 'request')").pluck(),
    };
  }
  const st = () => (s ??= prepare());
  return {
    findByClientIds: async (_trx, keys) => {
      const out: MessageRow[] = [];
      for (const k of keys) {
        const row = st().find.get(k.deviceId, k.clientId);
        if (row) out.push(row);
      }
      return out;
    },
    advanceSeqs: async (_trx, counts, stamp) => {
      const out = new Map<string, { lastSeq: number; disappearingSeconds: number }>();
      for (const [id, n] of counts) {
        const row = st().advance.get(n, stamp, id);
        if (row) out.set(id, { lastSeq: row.last_seq, disappearingSeconds: row.disappearing_seconds });
      }
      return out;
    },
    insertMessages: async (_trx, rows) => {
      const { insert } = st();
      // Positional, in MESSAGE_COLUMNS' order (envelope-batch.test.ts reads a row back column by
      // column): no array, no lookup by a computed key per column; named parameters (`@id`, the
      // row itself) cost 1.4 µs more a row here.
      for (const r of rows) {
        insert.run(
          r.id, r.conversation_id, r.seq, r.sender_id, r.sender_device_id, r.client_id, r.kind, r.ref_target, r.ref_reply_to,
          r.encoding, r.data, r.attachment_ids, r.created_at, r.edited_at, r.deleted_at, r.expires_at,
        );
      }
    },
    unarchive: async (_trx, targets, stamp) => {
      for (const t of targets) st().unarchive.run(stamp, t.conversationId, t.senderId, t.senderId, stamp);
    },
    listeners: async (_trx, ids) =>
      new Map(
        ids.map((id) => {
          let listeners = kept.byConversation?.get(id);
          if (!listeners) {
            listeners = Object.freeze(st().listeners.all(id)) as string[];
            if (kept.byConversation) {
              if (kept.byConversation.size >= KEPT_LISTENERS_MAX) kept.byConversation.clear();
              kept.byConversation.set(id, listeners);
            }
          }
          // A copy: callers may sort or extend their list (the kept one is frozen).
          return [id, listeners.slice()];
        }),
      ),
  };
}

/**
 * fdatasync of the WAL file in libuv's thread pool. One sync covers every commit made before
 * it started; a commit made while one runs waits for the next, which every such commit
 * shares. Linux syncs a file's dirty pages whatever descriptor they were written through.
 * fdatasync, as SQLite itself syncs: the data and what reading it back needs (the file's
 * size), not its timestamps; on this VM 20–25% less CPU and time a sync than fsync
 * (docs/PERFORMANCE.md, the seventh pass).
 */
class WalSync {
  private handle: FileHandle | null = null;
  private inode = -1;
  private current: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(private readonly file: string) {}

  sync(): Promise<void> {
    if (this.next) return this.next;
    if (!this.current) return this.start();
    this.next = this.current.then(
      () => this.start(),
      () => this.start(),
    );
    return this.next;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.current, this.next]);
    await this.handle?.close();
    this.handle = null;
  }

  private start(): Promise<void> {
    this.next = null;
    const p = this.fsync();
    this.current = p;
    const clear = () => {
      if (this.current === p) this.current = null;
    };
    p.then(clear, clear);
    return p;
  }

  private async fsync(): Promise<void> {
    // The WAL exists once the first transaction committed; SQLite removes it only when the
    // last connection closes, so a new inode means ours is stale: reopen.
    const inode = statSync(this.file).ino;
    if (!this.handle || inode !== this.inode) {
      await this.handle?.close();
      this.handle = await open(this.file, 'r');
      this.inode = inode;
    }
    await this.handle.datasync();
  }
}

/** The embedded default: one file under the data dir, WAL, fsync before every commit returns. */
export function openSqlite(file: string, durability: Durability): Database {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const raw = new SQLite(file);
  raw.pragma('journal_mode = WAL');
  // FULL: the WAL is fsynced at every commit, so an acked write survives power loss.
  raw.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  // Checkpoints run in a worker (see Checkpointer), not inside a commit on the event loop.
  let checkpointer: Checkpointer | null = null;
  let checkpointTimer: NodeJS.Timeout | null = null;
  if (file !== ':memory:') {
    raw.pragma('wal_autocheckpoint = 0');
    // When a commit restarts the WAL after a complete checkpoint, it overwrites the file
    // from its start (far cheaper for the kernel than appending to a file cut back to 0);
    // the file is cut back only past this size (without a limit it keeps its largest size
    // for ever).
    raw.pragma(`journal_size_limit = ${WAL_KEPT_BYTES}`);
    checkpointer = new Checkpointer(file, {
      onError: () => {
        // Back to SQLite's own checkpoints rather than a WAL that grows for ever.
        if (raw.open) raw.pragma('wal_autocheckpoint = 1000');
        checkpointer = null;
      },
    });
    // Writes other than the send path's batches (which check after each) are caught here.
    checkpointTimer = setInterval(() => checkpointer?.maybe(), 1000);
    checkpointTimer.unref();
  }
  const reads = new SharedReads(raw);
  const db = new Kysely<DB>({ dialect: new FifoSqliteDialect({ database: cachedStatements(raw, reads) }) });
  // The few precompiled queries of the hot paths (storage/db.ts `precompile`) run at once
  // while no transaction holds the connection.
  const syncStatements = new Map<string, SQLite.Statement>();
  registerSyncReader(db, (sql, parameters) => {
    if ((raw.inTransaction && !reads.open) || reads.busy > 0) return undefined;
    let stmt = syncStatements.get(sql);
    if (!stmt) syncStatements.set(sql, (stmt = raw.prepare(sql)));
    if (!stmt.reader || !stmt.readonly) return undefined;
    reads.enter();
    return stmt.all(parameters);
  });
  const wal = durability === 'full' && file !== ':memory:' ? new WalSync(`${file}-wal`) : null;
  // Prepared once: `raw.pragma()` compiles its statement on every call, twice per batch.
  const syncNormal = raw.prepare('pragma synchronous = NORMAL');
  const syncFull = raw.prepare('pragma synchronous = FULL');
  let watchers = 0;
  const keptListeners: KeptListeners = { byConversation: null };
  async function commitBatch<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<{ value: T; durable: Promise<void> }> {
    // Past its restart point the WAL waits for a complete checkpoint, so that this batch
    // writes from the file's start again (overwriting, not appending).
    await checkpointer?.beforeWrite();
    if (!wal) {
      const value = await db.transaction().execute(fn);
      checkpointer?.maybe();
      return { value, durable: Promise.resolve() };
    }
    // The batch commits at synchronous=NORMAL (no fsync inside COMMIT, which would stop
    // the event loop) and is synced right after, off the loop; every other write keeps
    // FULL. The connection is held throughout, so nothing else commits at NORMAL.
    const value = await db.connection().execute(async (conn) => {
      reads.end();
      syncNormal.run();
      try {
        return await conn.transaction().execute(fn);
      } finally {
        syncFull.run();
      }
    });
    const durable = wal.sync();
    // Checked once the batch is on disk (the checkpoint's own sync of the WAL then has little to do).
    durable.then(() => checkpointer?.maybe(), () => {});
    return { value, durable };
  }
  async function guardedCommit<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<{ value: T; durable: Promise<void> }> {
    try {
      return await commitBatch(fn);
    } catch (err) {
      // Listeners read inside a batch that changed members and then rolled back would be
      // of a state that never was.
      keptListeners.byConversation?.clear();
      throw err;
    }
  }
  return {
    db,
    writer: db,
    writerLanes: 1,
    dialect: 'sqlite',
    raw,
    messageLog: sqliteMessageLog(raw, keptListeners),
    commitBatch: guardedCommit,
    write: async (fn) => {
      const { value, durable } = await guardedCommit(fn);
      await durable;
      return value;
    },
    watchSendFacts: (onChange) => {
      // Temporary triggers: this connection's alone (the file's schema is unchanged), created
      // once the migrations made the tables. They run inside the writing statement, so the
      // change is seen before the transaction goes on, whichever code path wrote.
      const fn = `parley_send_facts_changed_${++watchers}`;
      keptListeners.byConversation ??= new Map();
      raw.function(fn, { deterministic: false }, () => {
        keptListeners.byConversation?.clear();
        onChange();
        return null;
      });
      SEND_FACTS_TRIGGERS.forEach((when, i) => raw.exec(`create temp trigger if not exists ${fn}_${i} ${when} begin select ${fn}(); end`));
    },
    isUniqueViolation: (err) => (err as { code?: string })?.code?.startsWith('SQLITE_CONSTRAINT') === true && /UNIQUE|PRIMARY KEY/.test(String((err as Error).message)),
    isUnavailable: () => false,
    close: async () => {
      if (checkpointTimer) clearInterval(checkpointTimer);
      await checkpointer?.close();
      await wal?.close();
      await db.destroy();
    },
  };
}
