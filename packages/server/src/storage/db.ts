import path from 'node:path';
import { Migrator, type Kysely } from 'kysely';
import type pg from 'pg';
import type SQLite from 'better-sqlite3';
import type { DB } from './schema.ts';
import { migrationProvider } from './migrations/index.ts';
import { openSqlite } from './dialects/sqlite.ts';
import { openPostgres } from './dialects/postgres.ts';

export type { DB } from './schema.ts';
export type Dialect = 'sqlite' | 'postgres';
export type Durability = 'full' | 'normal';

export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  /** The driver underneath, for the few dialect-specific hot paths in storage/dialects. */
  raw: SQLite.Database | pg.Pool;
  isUniqueViolation(err: unknown): boolean;
  /** The database is down or unreachable (answer 503, not 500). */
  isUnavailable(err: unknown): boolean;
  close(): Promise<void>;
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
