import type { SyncResult } from '@parley/protocol';
import type { Kysely } from 'kysely';
import { precompile, type DB } from '../../storage/db.ts';
import { decodeCursor, type ChangeClock } from './change-clock.ts';
import { buildViews, LISTENING } from './queries.ts';

/**
 * The queries of a sync, built and compiled once per database: every reconnecting device
 * asks, and building them through Kysely cost more than running them.
 */
const compile = (db: Kysely<DB>) => {
  const mine = (userId: string) =>
    db
      .selectFrom('members as me')
      .innerJoin('conversations as c', 'c.id', 'me.conversation_id')
      .select(['c.id', 'me.state'])
      .where('me.user_id', '=', userId)
      // A message request reaches its recipient with its first message, not when it is opened.
      .where((eb) => eb.or([eb('me.state', '!=', 'request'), eb('c.last_seq', '>', 0)]));
  return {
    all: precompile(1, (userId: string) => mine(userId).orderBy('c.updated_at', 'desc')),
    changedSince: precompile(2, (userId: string, since: string) =>
      mine(userId)
        .where((eb) => eb.or([eb('me.updated_at', '>', since), eb('c.updated_at', '>', since)]))
        .orderBy('c.updated_at', 'desc'),
    ),
    removedSince: precompile(2, (userId: string, since: string) =>
      db.selectFrom('removals').select('conversation_id').where('user_id', '=', userId).where('removed_at', '>', since),
    ),
  };
};

const compiled = new WeakMap<Kysely<DB>, ReturnType<typeof compile>>();

/**
 * What changed for a user since `cursor`: conversations whose shared state (messages,
 * title, members) or whose per-user state (markers, mute, request state) changed, as full
 * views; and the ids the user left, was removed from, or declined. Without a cursor: every
 * conversation. The new cursor is taken before reading, so a change that commits meanwhile
 * is seen next time (perhaps twice: clients dedupe by id).
 */
export async function changesSince(db: Kysely<DB>, clock: ChangeClock, userId: string, cursor: string | undefined): Promise<SyncResult> {
  const since = cursor === undefined ? null : decodeCursor(cursor);
  const next = clock.cursor();
  let queries = compiled.get(db);
  if (!queries) compiled.set(db, (queries = compile(db)));
  const rows = since ? await queries.changedSince(db, userId, since) : await queries.all(db, userId);
  const live = rows.filter((r) => LISTENING.includes(r.state)).map((r) => r.id);
  const removed = since ? rows.filter((r) => r.state === 'declined').map((r) => r.id) : [];
  if (since) {
    const gone = await queries.removedSince(db, userId, since);
    removed.push(...gone.map((g) => g.conversation_id));
  }
  return { cursor: next, conversations: await buildViews(db, userId, live), removed };
}
