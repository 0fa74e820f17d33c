import { DEFAULT_PRIVACY, type Audience, type PrivacySettings } from '@parley/protocol';
import { expressionBuilder, type Expression, type ExpressionWrapper, type Kysely, type SqlBool } from 'kysely';
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
  return toBool(row?.may_write);
}

/**
 * The rule of `mayWriteDirect` as one SQL condition, for a query that has both sides at
 * hand (bound values, or columns of its own rows): the send path asks it inside its one
 * lookup of the conversation (send facts) rather than in a query of its own, and
 * `mayWriteDirect` asks it alone, so the rule is written once. A null `to` (no peer) may
 * not be written to.
 */
export function mayWriteDirectSql(from: Expression<string>, to: Expression<string | null>): ExpressionWrapper<DB, never, SqlBool> {
  const eb = expressionBuilder<DB, never>();
  const block = (blocker: Expression<string | null>, blocked: Expression<string | null>) =>
    eb.selectFrom('blocks').select('blocks.blocker_id').where('blocks.blocker_id', '=', blocker).where('blocks.blocked_id', '=', blocked);
  return eb.and([
    eb.exists(eb.selectFrom('users').select('users.id').where('users.id', '=', to).where('users.deleted_at', 'is', null)),
    eb.not(eb.exists(block(from, to))),
    eb.not(eb.exists(block(to, from))),
  ]);
}

// The rule alone, compiled once per database.
const compileWriteDirect = (db: Kysely<DB>) =>
  precompile(2, (from: string, to: string) => db.selectNoFrom((eb) => mayWriteDirectSql(eb.val(from), eb.val(to)).as('may_write')));
const writeDirectQueries = new WeakMap<Kysely<DB>, ReturnType<typeof compileWriteDirect>>();
