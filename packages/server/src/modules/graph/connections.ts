import type { Connection, ConnectionState } from '@parley/protocol';
import type { Kysely, Transaction } from 'kysely';
import type { AppContext } from '../../context.ts';
import type { DomainEvent } from '../../bus/events.ts';
import { AppError } from '../../errors.ts';
import { nowIso } from '../../ids.ts';
import type { DB } from '../../storage/db.ts';
import { toUser } from '../accounts/index.ts';
import { decodeCursor, page } from './paging.ts';

type Db = Kysely<DB> | Transaction<DB>;

/**
 * Connections are stored as two rows per pair, each as one side sees it. The sides may
 * disagree on purpose: a declined request is deleted from the decliner's side only, so the
 * requester still sees it as outgoing and is never told (and cannot re-send it).
 *
 * A block suspends a connection rather than erasing it: while it lasts neither side lists
 * the other and every policy treats the pair as blocked; unblocking restores the previous
 * state, as the issue asks.
 */
export async function ensureUser(db: Db, userId: string): Promise<void> {
  const row = await db.selectFrom('users').select('id').where('id', '=', userId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!row) throw new AppError('not_found', 'no such user');
}

export function notSelf(me: string, other: string, field = 'params.userId'): void {
  if (me === other) throw new AppError('invalid_request', `${field}: that is you`, { data: { field } });
}

async function stateOf(db: Db, from: string, to: string): Promise<ConnectionState | null> {
  const row = await db.selectFrom('connections').select('state').where('user_id', '=', from).where('peer_id', '=', to).executeTakeFirst();
  return row?.state ?? null;
}

async function blockOf(db: Db, blocker: string, blocked: string): Promise<boolean> {
  const row = await db.selectFrom('blocks').select('blocker_id').where('blocker_id', '=', blocker).where('blocked_id', '=', blocked).executeTakeFirst();
  return row !== undefined;
}

async function blockedEitherWay(db: Db, a: string, b: string): Promise<boolean> {
  return (await blockOf(db, a, b)) || (await blockOf(db, b, a));
}

async function put(db: Db, userId: string, peerId: string, state: ConnectionState, since: string): Promise<void> {
  await db
    .insertInto('connections')
    .values({ user_id: userId, peer_id: peerId, state, since })
    .onConflict((oc) => oc.columns(['user_id', 'peer_id']).doUpdateSet({ state, since }))
    .execute();
}

/**
 * Write both sides of a pair, always the lower user id first: two people acting on each
 * other at the same moment then wait for one another instead of deadlocking (PostgreSQL).
 */
async function putPair(db: Db, me: string, peer: string, mine: ConnectionState, theirs: ConnectionState, since: string): Promise<void> {
  const rows: [string, string, ConnectionState][] = [
    [me, peer, mine],
    [peer, me, theirs],
  ];
  rows.sort((x, y) => (x[0] < y[0] ? -1 : 1));
  for (const [userId, peerId, state] of rows) await put(db, userId, peerId, state, since);
}

/**
 * Once two people are connected, a message request between them is no longer a request:
 * it moves to the recipient's inbox, as accepting it would. A declined one stays declined.
 */
async function promoteRequests(db: Db, a: string, b: string, now: string): Promise<string[]> {
  const rows = await db
    .selectFrom('members as ma')
    .innerJoin('members as mb', 'mb.conversation_id', 'ma.conversation_id')
    .innerJoin('conversations as c', 'c.id', 'ma.conversation_id')
    .select('c.id')
    .where('c.type', '=', 'direct')
    .where('ma.user_id', '=', a)
    .where('mb.user_id', '=', b)
    .execute();
  const ids = rows.map((r) => r.id);
  if (ids.length === 0) return [];
  const updated = await db
    .updateTable('members')
    .set({ state: 'active', updated_at: now })
    .where('conversation_id', 'in', ids)
    .where('state', '=', 'request')
    .returning('conversation_id')
    .execute();
  return [...new Set(updated.map((r) => r.conversation_id))];
}

/**
 * One more connection request opened today by `userId`; past `requestsPerDay` (the same cap
 * as message requests: both reach strangers), refuse until midnight UTC.
 */
async function countRequest(db: Db, userId: string, cap: number): Promise<void> {
  const ms = Date.now();
  const day = new Date(ms).toISOString().slice(0, 10);
  const row = await db
    .insertInto('daily_counters')
    .values({ user_id: userId, name: 'connection_requests', day, count: 1 })
    .onConflict((oc) => oc.columns(['user_id', 'name', 'day']).doUpdateSet((eb) => ({ count: eb('daily_counters.count', '+', 1) })))
    .returning('count')
    .executeTakeFirstOrThrow();
  if (row.count > cap) {
    const midnight = Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth(), new Date(ms).getUTCDate() + 1);
    throw new AppError('rate_limited', `at most ${cap} new connection requests a day`, { retryAfter: Math.ceil((midnight - ms) / 1000) });
  }
}

export function createConnections(ctx: AppContext) {
  const { db } = ctx;

  async function connect(tx: Db, me: string, peer: string, now: string): Promise<DomainEvent[]> {
    await putPair(tx, me, peer, 'connected', 'connected', now);
    const moved = await promoteRequests(tx, me, peer, now);
    return [
      { type: 'user.changed', userId: peer, recipientIds: [me] },
      { type: 'user.changed', userId: me, recipientIds: [peer] },
      ...moved.map((conversationId): DomainEvent => ({ type: 'conversation.changed', conversationId, recipientIds: [me, peer] })),
    ];
  }

  /** Two people requesting each other at the same moment both insert rows: the loser retries once and sees the winner's. */
  async function withRetry<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (!ctx.database.isUniqueViolation(err)) throw err;
      return work();
    }
  }

  return {
    /** Ask `peer` to connect; if they already asked `me`, both are connected now. */
    async request(me: string, peer: string): Promise<{ state: 'connected' | 'outgoing' }> {
      notSelf(me, peer);
      await ensureUser(db, peer);
      const { state, events } = await withRetry(() =>
        ctx.database.write(async (tx) => {
          const mine = await stateOf(tx, me, peer);
          if (mine === 'connected' || mine === 'outgoing') return { state: mine, events: [] as DomainEvent[] };
          const now = nowIso();
          const theirs = await stateOf(tx, peer, me);
          const blocked = (await blockOf(tx, peer, me)) || (await blockOf(tx, me, peer));
          if (!blocked && (mine === 'incoming' || theirs === 'outgoing' || theirs === 'connected')) {
            return { state: 'connected' as const, events: await connect(tx, me, peer, now) };
          }
          // A swallowed request counts like any other, so the cap reveals no block either.
          await countRequest(tx, me, ctx.config.requestsPerDay);
          // Across a block (either way) a request is swallowed: the answer is the ordinary one,
          // and nothing reaches the other side, now or after an unblock.
          if (blocked) return { state: 'outgoing' as const, events: [] as DomainEvent[] };
          await putPair(tx, me, peer, 'outgoing', 'incoming', now);
          return {
            state: 'outgoing' as const,
            events: [
              { type: 'user.changed', userId: peer, recipientIds: [me] },
              { type: 'user.changed', userId: me, recipientIds: [peer] },
            ] as DomainEvent[],
          };
        }),
      );
      for (const e of events) ctx.emit(e);
      return { state };
    },

    /** Accept `peer`'s request. */
    async accept(me: string, peer: string): Promise<{ state: 'connected' }> {
      notSelf(me, peer);
      await ensureUser(db, peer);
      const events = await ctx.database.write(async (tx) => {
        const mine = await stateOf(tx, me, peer);
        if (mine === 'connected') return [];
        // A request across a block (either way) is hidden from the lists, and so not found here.
        if (mine !== 'incoming' || (await blockedEitherWay(tx, me, peer))) throw new AppError('not_found', 'no connection request from this user');
        return connect(tx, me, peer, nowIso());
      });
      for (const e of events) ctx.emit(e);
      return { state: 'connected' };
    },

    /** Decline an incoming request, cancel an outgoing one, or remove a connection. */
    async remove(me: string, peer: string): Promise<void> {
      notSelf(me, peer);
      const exists = await db.selectFrom('users').select('id').where('id', '=', peer).executeTakeFirst();
      if (!exists) throw new AppError('not_found', 'no such user');
      const events = await ctx.database.write(async (tx) => {
        const mine = await stateOf(tx, me, peer);
        if (mine === null) return [];
        const out: DomainEvent[] = [{ type: 'user.changed', userId: peer, recipientIds: [me] }];
        // Declining leaves the requester's side as it was: they are not told.
        if (mine === 'incoming') {
          await tx.deleteFrom('connections').where('user_id', '=', me).where('peer_id', '=', peer).execute();
          return out;
        }
        // Both sides in one statement, so two people removing each other at once cannot deadlock.
        await tx
          .deleteFrom('connections')
          .where((eb) =>
            eb.or([
              eb.and([eb('user_id', '=', me), eb('peer_id', '=', peer)]),
              eb.and([eb('user_id', '=', peer), eb('peer_id', '=', me), eb('state', 'in', ['connected', 'incoming'])]),
            ]),
          )
          .execute();
        out.push({ type: 'user.changed', userId: me, recipientIds: [peer] });
        return out;
      });
      for (const e of events) ctx.emit(e);
    },

    /** One side's list, newest first, without anyone blocked either way or deleted. */
    async list(me: string, state: ConnectionState, limit: number, cursor: string | undefined): Promise<{ connections: Connection[]; nextCursor: string | null }> {
      const after = decodeCursor(cursor, 2);
      let q = db
        .selectFrom('connections as c')
        .innerJoin('users as u', 'u.id', 'c.peer_id')
        .select(['c.peer_id', 'c.state', 'c.since', 'u.id', 'u.username', 'u.display_name', 'u.bio', 'u.deleted_at'])
        .where('c.user_id', '=', me)
        .where('c.state', '=', state)
        .where('u.deleted_at', 'is', null)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('blocks as b')
                .select('b.blocker_id')
                .where((eb) =>
                  eb.or([
                    eb.and([eb('b.blocker_id', '=', me), eb('b.blocked_id', '=', eb.ref('c.peer_id'))]),
                    eb.and([eb('b.blocked_id', '=', me), eb('b.blocker_id', '=', eb.ref('c.peer_id'))]),
                  ]),
                ),
            ),
          ),
        );
      if (after) {
        const [since, peerId] = after as [string, string];
        q = q.where((eb) => eb.or([eb('c.since', '<', since), eb.and([eb('c.since', '=', since), eb('c.peer_id', '<', peerId)])]));
      }
      const rows = await q.orderBy('c.since', 'desc').orderBy('c.peer_id', 'desc').limit(limit + 1).execute();
      const { items, nextCursor } = page(rows, limit, (r) => [r.since, r.peer_id]);
      return { connections: items.map((r) => ({ userId: r.peer_id, user: toUser(r), state: r.state, since: r.since })), nextCursor };
    },
  };
}

export type Connections = ReturnType<typeof createConnections>;
