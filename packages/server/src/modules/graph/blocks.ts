import type { Block } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { nowIso } from '../../ids.ts';
import type { DB } from '../../storage/db.ts';
import { toUser } from '../accounts/index.ts';
import { ensureUser, notSelf } from './connections.ts';
import { decodeCursor, page } from './paging.ts';
import { presenceVisibleTo, presenceWithdrawn } from './visibility.ts';

/** True when either user blocked the other. */
export async function blockedEitherWay(db: Kysely<DB>, a: string, b: string): Promise<boolean> {
  const row = await db
    .selectFrom('blocks')
    .select('blocker_id')
    .where((eb) => eb.or([eb.and([eb('blocker_id', '=', a), eb('blocked_id', '=', b)]), eb.and([eb('blocker_id', '=', b), eb('blocked_id', '=', a)])]))
    .executeTakeFirst();
  return row !== undefined;
}

/** Of `targetIds`, the ones that blocked `viewerId` (and so must not be seen by them). */
export async function blockersOf(db: Kysely<DB>, viewerId: string, targetIds: string[]): Promise<Set<string>> {
  if (targetIds.length === 0) return new Set();
  const rows = await db.selectFrom('blocks').select('blocker_id').where('blocked_id', '=', viewerId).where('blocker_id', 'in', targetIds).execute();
  return new Set(rows.map((r) => r.blocker_id));
}

/** Block, unblock, list. A block is never announced to the blocked user. */
export function createBlocks(ctx: AppContext) {
  const { db } = ctx;
  return {
    async block(me: string, target: string): Promise<void> {
      notSelf(me, target);
      await ensureUser(db, target);
      const [mineBefore, theirsBefore] = await Promise.all([presenceVisibleTo(db, me, [target]), presenceVisibleTo(db, target, [me])]);
      const created = await db
        .insertInto('blocks')
        .values({ blocker_id: me, blocked_id: target, created_at: nowIso() })
        .onConflict((oc) => oc.columns(['blocker_id', 'blocked_id']).doNothing())
        .returning('blocker_id')
        .execute();
      if (created.length === 0) return;
      // Only the blocker's own devices hear of the block itself (their block list and views change).
      ctx.emit({ type: 'user.changed', userId: target, recipientIds: [me] });
      // Presence stops crossing the block either way: each side last sees the other go offline.
      for (const e of [presenceWithdrawn(me, mineBefore, new Set()), presenceWithdrawn(target, theirsBefore, new Set())]) if (e) ctx.emit(e);
    },

    async unblock(me: string, target: string): Promise<void> {
      notSelf(me, target);
      const exists = await db.selectFrom('users').select('id').where('id', '=', target).executeTakeFirst();
      if (!exists) throw new AppError('not_found', 'no such user');
      const removed = await db.deleteFrom('blocks').where('blocker_id', '=', me).where('blocked_id', '=', target).returning('blocker_id').execute();
      if (removed.length > 0) ctx.emit({ type: 'user.changed', userId: target, recipientIds: [me] });
    },

    /** Everyone `me` blocked, newest first (the SDK hides their messages in shared groups). */
    async list(me: string, limit: number, cursor: string | undefined): Promise<{ blocks: Block[]; nextCursor: string | null }> {
      const after = decodeCursor(cursor, 2);
      let q = db
        .selectFrom('blocks as b')
        .innerJoin('users as u', 'u.id', 'b.blocked_id')
        .select(['b.blocked_id', 'b.created_at', 'u.id', 'u.username', 'u.display_name', 'u.bio', 'u.deleted_at'])
        .where('b.blocker_id', '=', me);
      if (after) {
        const [createdAt, id] = after as [string, string];
        q = q.where((eb) => eb.or([eb('b.created_at', '<', createdAt), eb.and([eb('b.created_at', '=', createdAt), eb('b.blocked_id', '<', id)])]));
      }
      const rows = await q.orderBy('b.created_at', 'desc').orderBy('b.blocked_id', 'desc').limit(limit + 1).execute();
      const { items, nextCursor } = page(rows, limit, (r) => [r.created_at, r.blocked_id]);
      return { blocks: items.map((r) => ({ userId: r.blocked_id, user: toUser(r), createdAt: r.created_at })), nextCursor };
    },
  };
}

export type Blocks = ReturnType<typeof createBlocks>;

/**
 * Block `targets` inside someone else's transaction (a report that also blocks is one
 * write). Returns those newly blocked; the caller emits `user.changed` for them after commit.
 */
export async function insertBlocks(db: Kysely<DB>, blocker: string, targets: string[]): Promise<string[]> {
  const wanted = [...new Set(targets)].filter((id) => id !== blocker);
  if (wanted.length === 0) return [];
  const now = nowIso();
  const created = await db
    .insertInto('blocks')
    .values(wanted.map((blocked_id) => ({ blocker_id: blocker, blocked_id, created_at: now })))
    .onConflict((oc) => oc.columns(['blocker_id', 'blocked_id']).doNothing())
    .returning('blocked_id')
    .execute();
  return created.map((r) => r.blocked_id);
}
