import { DEFAULT_PRIVACY, type Audience, type PrivacySettings } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { DB } from '../../storage/db.ts';
import { precompile, toBool } from '../../storage/db.ts';

/** How `from` stands toward `to`, as far as reaching them goes. */
export interface Relationship {
  connected: boolean;
  /** Either blocked the other. Never revealed to the blocked side: callers answer as for privacy. */
  blocked: boolean;
}

/** What may happen when `from` opens a direct conversation with `to`. */
export type Reach = 'allowed' | 'request' | 'denied';

export async function relationship(db: Kysely<DB>, from: string, to: string): Promise<Relationship> {
  const [conn, block] = await Promise.all([
    db.selectFrom('connections').select('state').where('user_id', '=', from).where('peer_id', '=', to).executeTakeFirst(),
    db
      .selectFrom('blocks')
      .select('blocker_id')
      .where((eb) => eb.or([eb.and([eb('blocker_id', '=', from), eb('blocked_id', '=', to)]), eb.and([eb('blocker_id', '=', to), eb('blocked_id', '=', from)])]))
      .executeTakeFirst(),
  ]);
  return { connected: conn?.state === 'connected', blocked: block !== undefined };
}

export async function privacyOf(db: Kysely<DB>, userIds: string[]): Promise<Map<string, PrivacySettings>> {
  const out = new Map<string, PrivacySettings>();
  if (userIds.length === 0) return out;
  const rows = await db
    .selectFrom('users')
    .select(['id', 'who_can_message', 'who_can_add_to_groups', 'read_receipts', 'presence'])
    .where('id', 'in', userIds)
    .execute();
  for (const r of rows) {
    out.set(r.id, {
      whoCanMessage: r.who_can_message as Audience,
      whoCanAddToGroups: r.who_can_add_to_groups as Audience,
      readReceipts: toBool(r.read_receipts),
      presence: r.presence as Audience,
    });
  }
  return out;
}

export const allows = (audience: Audience, connected: boolean) => audience === 'everyone' || (audience === 'connections' && connected);

/**
 * May `from` message `to`? Connections (when allowed) go straight to the inbox; strangers,
 * when `to` accepts messages from everyone, land in `to`'s requests. A block reads as denied,
 * exactly like a privacy setting that forbids contact.
 */
export async function reach(db: Kysely<DB>, from: string, to: string): Promise<Reach> {
  const [rel, privacy] = await Promise.all([relationship(db, from, to), privacyOf(db, [to])]);
  const settings = privacy.get(to) ?? DEFAULT_PRIVACY;
  if (rel.blocked || !allows(settings.whoCanMessage, rel.connected)) return 'denied';
  return rel.connected ? 'allowed' : 'request';
}

/** May `adder` add `target` to a group? Same rules with `whoCanAddToGroups`. */
export async function mayAddToGroup(db: Kysely<DB>, adder: string, target: string): Promise<boolean> {
  const [rel, privacy] = await Promise.all([relationship(db, adder, target), privacyOf(db, [target])]);
  const settings = privacy.get(target) ?? DEFAULT_PRIVACY;
  return !rel.blocked && allows(settings.whoCanAddToGroups, rel.connected);
}

/**
 * May `from` keep writing into an existing direct conversation with `to`? Not across a
 * block (either way) and not to a deleted account. Privacy settings gate opening a
 * conversation, not one already accepted, as in other messengers.
 */
export async function mayWriteDirect(db: Kysely<DB>, from: string, to: string): Promise<boolean> {
  let query = writeDirectQueries.get(db);
  if (!query) writeDirectQueries.set(db, (query = compileWriteDirect(db)));
  const [row] = await query(db, from, to);
  return row !== undefined && row.deleted_at === null && !row.blocked;
}

// One query, compiled once per database (this runs on every direct send): the target's
// account, and a block either way.
const compileWriteDirect = (db: Kysely<DB>) =>
  precompile(2, (from: string, to: string) =>
    db
      .selectFrom('users')
      .select((eb) => [
        'deleted_at',
        eb
          .exists(
            eb
              .selectFrom('blocks')
              .select('blocker_id')
              .where((b) => b.or([b.and([b('blocker_id', '=', from), b('blocked_id', '=', to)]), b.and([b('blocker_id', '=', to), b('blocked_id', '=', from)])])),
          )
          .as('blocked'),
      ])
      .where('id', '=', to),
  );
const writeDirectQueries = new WeakMap<Kysely<DB>, ReturnType<typeof compileWriteDirect>>();

/** Pairs one batched check answers at most (bound values stay far below every engine's limit). */
const MAX_BATCHED = 250;

/**
 * `mayWriteDirect` for a server whose every query is a round trip (PostgreSQL): the checks
 * asked within one turn of the event loop are answered together, in two queries (the
 * targets' accounts, the blocks between the pairs either way); a check alone takes the
 * single query. The same rules as `mayWriteDirect`.
 */
export function batchedMayWriteDirect(db: Kysely<DB>): (from: string, to: string) => Promise<boolean> {
  let pending: { from: string; to: string; resolve(ok: boolean): void; reject(err: unknown): void }[] = [];
  async function flush(batch: typeof pending): Promise<void> {
    if (batch.length === 1) {
      const only = batch[0]!;
      return mayWriteDirect(db, only.from, only.to).then(only.resolve, only.reject);
    }
    try {
      const targets = [...new Set(batch.map((q) => q.to))];
      const [users, blocks] = await Promise.all([
        db.selectFrom('users').select(['id', 'deleted_at']).where('id', 'in', targets).execute(),
        db
          .selectFrom('blocks')
          .select(['blocker_id', 'blocked_id'])
          .where((eb) =>
            eb(
              eb.refTuple('blocker_id', 'blocked_id'),
              'in',
              batch.flatMap((q) => [eb.tuple(q.from, q.to), eb.tuple(q.to, q.from)]),
            ),
          )
          .execute(),
      ]);
      const live = new Set(users.filter((u) => u.deleted_at === null).map((u) => u.id));
      const blocked = new Set(blocks.map((b) => `${b.blocker_id}\u0000${b.blocked_id}`));
      for (const q of batch) q.resolve(live.has(q.to) && !blocked.has(`${q.from}\u0000${q.to}`) && !blocked.has(`${q.to}\u0000${q.from}`));
    } catch (err) {
      for (const q of batch) q.reject(err);
    }
  }
  return (from, to) =>
    new Promise((resolve, reject) => {
      if (pending.length === 0) {
        setImmediate(() => {
          const all = pending;
          pending = [];
          for (let i = 0; i < all.length; i += MAX_BATCHED) void flush(all.slice(i, i + MAX_BATCHED));
        });
      }
      pending.push({ from, to, resolve, reject });
    });
}
