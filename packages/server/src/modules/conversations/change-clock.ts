import { AppError } from '../../errors.ts';
import { nowIso } from '../../ids.ts';

const CURSOR_PREFIX = 'c1.';

/**
 * Stamps every write that sync must see, and hands out sync cursors that never skip one.
 *
 * A plain "time of the last sync" cursor misses a write that took its timestamp before the
 * sync read but committed after it. So each write registers the moment it takes its stamp
 * and deregisters once committed; a cursor is never later than the oldest write still in
 * flight. Writes made by other processes (several servers on one PostgreSQL) are invisible
 * to this bookkeeping: `overlapMs` re-reads that much history instead, and clients dedupe.
 */
export class ChangeClock {
  private readonly inflight = new Map<number, number>();
  private nextId = 0;

  constructor(private readonly overlapMs: number) {}

  /** Run a write with its stamp (ISO time); sync cursors taken meanwhile stay before it. */
  async write<T>(fn: (stamp: string, ms: number) => Promise<T>): Promise<T> {
    const id = this.nextId++;
    const ms = Date.now();
    this.inflight.set(id, ms);
    try {
      return await fn(nowIso(ms), ms);
    } finally {
      this.inflight.delete(id);
    }
  }

  /** Every change stamped after this moment may still be unseen by a reader starting now. */
  watermark(): number {
    let low = Date.now();
    for (const ms of this.inflight.values()) if (ms < low) low = ms;
    return low - 1 - this.overlapMs;
  }

  cursor(): string {
    return encodeCursor(this.watermark());
  }
}

export function encodeCursor(ms: number): string {
  return CURSOR_PREFIX + ms.toString(36);
}

/** The ISO time a cursor stands for; a malformed cursor is the caller's error. */
export function decodeCursor(cursor: string, field = 'query.cursor'): string {
  const ms = cursor.startsWith(CURSOR_PREFIX) ? parseInt(cursor.slice(CURSOR_PREFIX.length), 36) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > 8.64e15) {
    throw new AppError('invalid_request', `${field}: not a cursor this server issued`, { data: { field } });
  }
  return nowIso(ms);
}
