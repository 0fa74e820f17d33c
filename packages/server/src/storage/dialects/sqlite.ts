import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { DB } from '../schema.ts';
import type { Database, Durability } from '../db.ts';

/** The embedded default: one file under the data dir, WAL, fsync before every commit returns. */
export function openSqlite(file: string, durability: Durability): Database {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const raw = new SQLite(file);
  raw.pragma('journal_mode = WAL');
  // FULL: the WAL is fsynced at every commit, so an acked write survives power loss.
  raw.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: raw }) });
  return {
    db,
    dialect: 'sqlite',
    raw,
    isUniqueViolation: (err) => (err as { code?: string })?.code?.startsWith('SQLITE_CONSTRAINT') === true && /UNIQUE|PRIMARY KEY/.test(String((err as Error).message)),
    isUnavailable: () => false,
    close: async () => {
      await db.destroy();
    },
  };
}
