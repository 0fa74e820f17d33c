import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { DB } from '../schema.ts';
import type { Database, Durability, MessageLog, MessageRow } from '../db.ts';

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

/** One statement per call whatever the batch's size: the values go as arrays (unnest). */
const postgresMessageLog: MessageLog = {
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
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

export function openPostgres(url: string, durability: Durability, poolSize = 10, writerLanes = 4): Database {
  const pool = createPool(url, durability, poolSize);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  // The send path's batches commit on connections of their own (one per lane): a batch
  // holding row locks never queues for a connection behind request queries.
  const writer = new Kysely<DB>({ dialect: new PostgresDialect({ pool: createPool(url, durability, writerLanes) }) });
  return {
    db,
    writer,
    writerLanes,
    dialect: 'postgres',
    raw: pool,
    messageLog: postgresMessageLog,
    // synchronous_commit=on: COMMIT returns once the WAL is flushed.
    commitBatch: async (fn) => ({ value: await writer.transaction().execute(fn), durable: Promise.resolve() }),
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
