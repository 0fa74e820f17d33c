import { CompiledQuery, Kysely, PostgresDialect, sql, type DatabaseConnection, type Driver, type QueryResult, type TransactionSettings } from 'kysely';
import pg from 'pg';
import { notFound } from '../../errors.ts';
import { uuidv7 } from '../../ids.ts';
import type { DB } from '../schema.ts';
import { plainRow, statementName, type Database, type Durability, type MessageLog, type MessageRow, type PlainEnvelope } from '../db.ts';

// int8 (counts, bigint columns) as numbers: every value we store fits in 2^53.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Connection-level failures: the database is down or unreachable, not the query wrong. */
const UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

const MESSAGE_COLUMNS: [keyof MessageRow, string][] = [
  ['id', 'text'], ['conversation_id', 'text'], ['seq', 'int'], ['sender_id', 'text'], ['sender_device_id', 'text'], ['client_id', 'text'],
  ['kind', 'text'], ['ref_target', 'text'], ['ref_reply_to', 'text'], ['encoding', 'text'], ['data', 'text'], ['attachment_ids', 'text'],
  ['created_at', 'text'], ['edited_at', 'text'], ['deleted_at', 'text'], ['expires_at', 'text'],
];
const MESSAGE_COLUMN_LIST = sql.join(MESSAGE_COLUMNS.map(([c]) => sql.id(c)));

/**
 * `MessageLog.appendPlain` as one statement: the retries lookup, the seqs (`last_seq +=
 * n`, the row locks), the insert, the unarchive rule and the listeners, as data-modifying
 * CTEs on one snapshot. An entry is new unless its (device, clientId) is stored or an
 * earlier entry (`i`) has it; its seq is the conversation's new last_seq minus its number
 * of new entries plus its rank among them. The ids come made (in JS). A conversation
 * that does not exist leaves a null seq: the not-null constraint fails the statement whole.
 * `$11` (the stamp) is text everywhere: a timestamptz would be written in another format.
 */
const APPEND_PLAIN = `with e as (
  select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
    with ordinality as e(id, conversation_id, sender_id, sender_device_id, client_id, kind, ref_target, ref_reply_to, encoding, data, i)
), stored as (
  -- A probe of the unique index per pair (limit 1 keeps the planner from a scan of messages).
  select m.* from (select distinct sender_device_id, client_id from e) k
   cross join lateral (select * from messages m where m.sender_device_id = k.sender_device_id and m.client_id = k.client_id limit 1) m
), fresh as (
  select f.*, row_number() over (partition by f.conversation_id order by f.i) as k, count(*) over (partition by f.conversation_id) as n
    from (select distinct on (sender_device_id, client_id) * from e order by sender_device_id, client_id, i) f
   where not exists (select from stored s where s.sender_device_id = f.sender_device_id and s.client_id = f.client_id)
), heads as (
  update conversations c set last_seq = c.last_seq + v.n, updated_at = $11::text
    from (select conversation_id, count(*)::int as n from fresh group by conversation_id) v
   where c.id = v.conversation_id
  returning c.id, c.last_seq, c.disappearing_seconds
), appended as (
  insert into messages (id, conversation_id, seq, sender_id, sender_device_id, client_id, kind, ref_target, ref_reply_to, encoding, data, attachment_ids, created_at, edited_at, deleted_at, expires_at)
  select f.id, f.conversation_id, h.last_seq - f.n + f.k, f.sender_id, f.sender_device_id, f.client_id, f.kind, f.ref_target, f.ref_reply_to, f.encoding, f.data,
         '[]', $11::text, null, null,
         case when h.disappearing_seconds > 0
              then to_char(($11::text::timestamptz + h.disappearing_seconds * interval '1 second') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') end
    from fresh f left join heads h on h.id = f.conversation_id
  returning id, seq, expires_at
), unarchived as (
  update members m set archived = 0, updated_at = $11::text
    from (select conversation_id, case when min(sender_id) = max(sender_id) then min(sender_id) end as sender_id
            from fresh where kind = 'message' group by conversation_id) v
   where m.conversation_id = v.conversation_id and m.archived = 1 and (v.sender_id is null or m.user_id <> v.sender_id)
     and (m.muted = 0 or (m.muted_until is not null and m.muted_until <= $11::text))
)
select (select json_agg(json_build_array(id, seq, expires_at)) from appended) as appended,
       (select json_agg(s) from stored s) as stored,
       (select json_agg(json_build_array(conversation_id, user_id)) from members
         where conversation_id in (select conversation_id from fresh) and state in ('active', 'request')) as listeners`;

async function appendPlain(trx: Kysely<DB>, entries: readonly PlainEnvelope[], stamp: string) {
  const listeners = new Map<string, string[]>();
  if (entries.length === 0) return { stored: [], appended: [], listeners };
  const ids = entries.map(() => uuidv7());
  const column = (f: (e: PlainEnvelope) => string | null | undefined) => entries.map((e) => f(e) ?? null);
  const parameters = [
    ids, column((e) => e.conversationId), column((e) => e.senderId), column((e) => e.senderDeviceId), column((e) => e.clientId), column((e) => e.kind),
    column((e) => e.refTarget), column((e) => e.refReplyTo), column((e) => e.encoding), column((e) => e.data), stamp,
  ];
  let result: QueryResult<{ appended: [string, number, string | null][] | null; stored: MessageRow[] | null; listeners: [string, string][] | null }>;
  try {
    result = await trx.executeQuery(CompiledQuery.raw(APPEND_PLAIN, parameters));
  } catch (err) {
    const e = err as { code?: string; column?: string };
    if (e?.code === '23502' && e.column === 'seq') throw notFound('no such conversation');
    throw err;
  }
  const out = result.rows[0]!;
  const assigned = new Map((out.appended ?? []).map(([id, seq, expiresAt]) => [id, { seq, expiresAt }]));
  const appended: MessageRow[] = [];
  entries.forEach((e, i) => {
    const head = assigned.get(ids[i]!);
    if (!head) return;
    appended.push(plainRow(e, ids[i]!, head.seq, stamp, head.expiresAt));
  });
  for (const r of appended) if (!listeners.has(r.conversation_id)) listeners.set(r.conversation_id, []);
  for (const [conversationId, userId] of out.listeners ?? []) listeners.get(conversationId)?.push(userId);
  return { stored: out.stored ?? [], appended, listeners };
}

/** One statement per call whatever the batch's size: the values go as arrays (unnest). */
const postgresMessageLog: MessageLog = {
  appendPlain,
  async findByClientIds(trx, keys) {
    if (keys.length === 0) return [];
    const { rows } = await sql<MessageRow>`select * from messages where (sender_device_id, client_id) in (select * from unnest(${keys.map((k) => k.deviceId)}::text[], ${keys.map((k) => k.clientId)}::text[]))`.execute(trx);
    return rows;
  },
  async advanceSeqs(trx, counts, stamp) {
    const out = new Map<string, { lastSeq: number; disappearingSeconds: number }>();
    if (counts.size === 0) return out;
    // Rows locked in id order, as every batch does: two batches wait for each other, never deadlock.
    const ids = [...counts.keys()].sort();
    const { rows } = await sql<{ id: string; last_seq: number; disappearing_seconds: number }>`
      update conversations c set last_seq = c.last_seq + v.n, updated_at = ${stamp}
        from (select * from unnest(${ids}::text[], ${ids.map((id) => counts.get(id))}::int[]) as t(id, n)) v
       where c.id = v.id
      returning c.id, c.last_seq, c.disappearing_seconds`.execute(trx);
    for (const r of rows) out.set(r.id, { lastSeq: r.last_seq, disappearingSeconds: r.disappearing_seconds });
    return out;
  },
  async insertMessages(trx, rows) {
    if (rows.length === 0) return;
    const arrays = MESSAGE_COLUMNS.map(([c, type]) => sql`${rows.map((r) => r[c])}::${sql.raw(type)}[]`);
    await sql`insert into messages (${MESSAGE_COLUMN_LIST}) select * from unnest(${sql.join(arrays)})`.execute(trx);
  },
  async unarchive(trx, targets, stamp) {
    if (targets.length === 0) return;
    await sql`
      update members m set archived = 0, updated_at = ${stamp}
        from (select * from unnest(${targets.map((t) => t.conversationId)}::text[], ${targets.map((t) => t.senderId)}::text[]) as t(conversation_id, sender_id)) v
       where m.conversation_id = v.conversation_id and m.archived = 1 and (v.sender_id is null or m.user_id <> v.sender_id)
         and (m.muted = 0 or (m.muted_until is not null and m.muted_until <= ${stamp}))`.execute(trx);
  },
  async listeners(trx, ids) {
    const out = new Map<string, string[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return out;
    const { rows } = await sql<{ conversation_id: string; user_id: string }>`
      select conversation_id, user_id from members where conversation_id = any(${[...ids]}::text[]) and state in ('active', 'request')`.execute(trx);
    for (const r of rows) out.get(r.conversation_id)?.push(r.user_id);
    return out;
  },
};

const MODIFYING = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/**
 * A connection of the writer pool. BEGIN goes out with a transaction's first statement
 * rather than ahead of it, so a transaction whose first statement is APPEND_PLAIN runs
 * that statement alone, in autocommit: one round trip for the whole batch where BEGIN, the
 * statement and COMMIT were three. One statement is atomic on its own and, at
 * synchronous_commit=on, durable when it returns, so the batch keeps both promises. It is
 * committed once it returns, so nothing may follow it: a second statement throws. APPEND_PLAIN
 * is also a named statement: each connection parses and plans it once, not per batch.
 */
class WriterConnection implements DatabaseConnection {
  /** none: no transaction; pending: BEGIN not sent yet; open: in a transaction; alone: the statement ran alone. */
  state: 'none' | 'pending' | 'open' | 'alone' = 'none';
  begin = 'begin';
  private begun: Promise<unknown> | null = null;

  constructor(readonly client: pg.PoolClient) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.state === 'alone') throw new Error('a statement after one that ran alone (committed on its own) would not be atomic with it');
    if (this.state === 'pending') {
      if (query.sql === APPEND_PLAIN) this.state = 'alone';
      else {
        this.state = 'open';
        this.begun = this.client.query(this.begin);
      }
    }
    if (this.begun) await this.begun;
    const values = [...query.parameters];
    const result = await this.client.query<R & pg.QueryResultRow>(query.sql === APPEND_PLAIN ? { name: 'parley_append_plain', text: query.sql, values } : { text: query.sql, values });
    return { rows: result.rows, numAffectedRows: MODIFYING.has(result.command) ? BigInt(result.rowCount ?? 0) : undefined };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the writer does not stream');
  }

  /** Ends the transaction's bookkeeping; true if BEGIN went out (COMMIT or ROLLBACK is due). */
  end(): boolean {
    const open = this.state === 'open';
    this.state = 'none';
    this.begun = null;
    return open;
  }
}

/** The writer pool's driver: WriterConnection's transactions. */
class WriterDriver implements Driver {
  constructor(private readonly pool: pg.Pool) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new WriterConnection(await this.pool.connect());
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = connection as WriterConnection;
    c.state = 'pending';
    c.begin = ['start transaction', settings.isolationLevel && `isolation level ${settings.isolationLevel}`, settings.accessMode].filter(Boolean).join(' ');
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as WriterConnection;
    if (c.end()) await c.client.query('commit');
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as WriterConnection;
    // Alone, there is nothing to roll back: the statement failed whole, or it is committed.
    if (c.end()) await c.client.query('rollback');
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = connection as WriterConnection;
    c.end();
    c.client.release();
  }

  async destroy(): Promise<void> {
    await this.pool.end();
  }
}

/** PostgreSQL through WriterDriver, for the send path's batches. */
class WriterDialect extends PostgresDialect {
  constructor(private readonly writerPool: pg.Pool) {
    super({ pool: writerPool });
  }

  override createDriver(): Driver {
    return new WriterDriver(this.writerPool);
  }
}

function createPool(url: string, durability: Durability, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types,
    // synchronous_commit=on (the default) means the WAL is flushed before COMMIT returns.
    options: `-c synchronous_commit=${durability === 'full' ? 'on' : 'off'}`,
    connectionTimeoutMillis: 5000,
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => {});
  // Nor may a checked-out one: when PostgreSQL goes away between two queries of a
  // transaction, pg emits 'error' on that client, and with no listener Node exits. The
  // query in flight fails on its own and is answered 503.
  pool.on('connect', (client) => {
    client.on('error', () => {});
    namePrecompiled(client);
  });
  return pool;
}

/**
 * The hot paths' precompiled queries (`precompile` in storage/db.ts: the send facts, the
 * session lookup, history pages, sync views) go out as named statements: PostgreSQL parses
 * and plans each once per connection instead of on every run. Kysely sends `(text,
 * values)`; a text with a name gets it, anything else goes out as it came.
 */
function namePrecompiled(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    const [text, values] = args;
    if (args.length === 2 && typeof text === 'string' && Array.isArray(values)) {
      const name = statementName(text);
      if (name) return query({ name, text, values });
    }
    return query(...args);
  }) as typeof client.query;
}

/**
 * `writerLanes`: batches committing at once. One by default: now that a plain batch is one
 * round trip, a single lane lets the sends that arrive during a commit pile up into the
 * next batch, and fewer, bigger batches cost PostgreSQL fewer statements and WAL flushes
 * per message. Quick runs on the 2-core bench machine, back to back, 1 lane against 4:
 * quiet (load 2–3) W4 6,348 and 6,081 msg/s against 5,554 and 5,666 (135–139 server CPU-s
 * per million messages against 154), W2 level; loaded (load 6–10) W2 234–238 CPU-s/M
 * against 372–539, W4 152–173 against 328–360. More lanes may suit a database with cores
 * to spare (not measured).
 */
export function openPostgres(url: string, durability: Durability, poolSize = 10, writerLanes = 1): Database {
  const pool = createPool(url, durability, poolSize);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  // The send path's batches commit on connections of their own (one per lane): a batch
  // holding row locks never queues for a connection behind request queries.
  // BEGIN goes out with a batch's first statement: a batch that is one statement runs alone.
  const writer = new Kysely<DB>({ dialect: new WriterDialect(createPool(url, durability, writerLanes)) });
  return {
    db,
    writer,
    writerLanes,
    dialect: 'postgres',
    raw: pool,
    messageLog: postgresMessageLog,
    // synchronous_commit=on: COMMIT returns once the WAL is flushed.
    commitBatch: async (fn) => ({ value: await writer.transaction().execute(fn), durable: Promise.resolve() }),
    write: (fn) => db.transaction().execute(fn),
    isUniqueViolation: (err) => (err as { code?: string })?.code === '23505',
    isUnavailable: (err) => {
      const e = err as { code?: string; message?: string };
      return (e?.code !== undefined && UNAVAILABLE.has(e.code)) || /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(e?.message ?? '');
    },
    close: async () => {
      await Promise.all([db.destroy(), writer.destroy()]);
    },
  };
}
