import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DB } from '../schema.ts';
import type { Database, Durability } from '../db.ts';

// int8 (counts, bigint columns) as numbers: every value we store fits in 2^53.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Connection-level failures: the database is down or unreachable, not the query wrong. */
const UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

export function openPostgres(url: string, durability: Durability, poolSize = 10): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
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
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    raw: pool,
    isUniqueViolation: (err) => (err as { code?: string })?.code === '23505',
    isUnavailable: (err) => {
      const e = err as { code?: string; message?: string };
      return (e?.code !== undefined && UNAVAILABLE.has(e.code)) || /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(e?.message ?? '');
    },
    close: async () => {
      await db.destroy();
    },
  };
}
