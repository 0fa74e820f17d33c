import type { Kysely } from 'kysely';
import type { DB } from './schema.ts';

/**
 * Runs a compiled read at once, synchronously, on an in-process database whose connection
 * is free; `undefined` when it is not (a transaction holds it: go through Kysely, which
 * waits for it).
 */
export type SyncReader = (sql: string, parameters: readonly unknown[]) => unknown[] | undefined;

const readers = new WeakMap<Kysely<DB>, SyncReader>();

/** Called by a dialect that can read synchronously (SQLite) for its Kysely instance. */
export function registerSyncReader(db: Kysely<DB>, reader: SyncReader): void {
  readers.set(db, reader);
}

/** The synchronous reader of `db`, if it has one (not for a transaction's Kysely). */
export function syncReaderOf(db: Kysely<DB>): SyncReader | undefined {
  return readers.get(db);
}
