import { DEFAULT_PRIVACY, type Audience } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { DomainEvent } from '../../bus/events.ts';
import { precompile, type DB } from '../../storage/db.ts';
import { allows, privacyOf } from './policy.ts';

/**
 * Who may see what a user does (presence, typing, read markers). These rules are the
 * graph's: the gateway and the messages module ask here before they fan an event out.
 */

/** Of `viewerIds`, those `subjectId` blocked or who blocked `subjectId`. */
async function blockedWith(db: Kysely<DB>, subjectId: string, viewerIds: string[]): Promise<Set<string>> {
  if (viewerIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('blocks')
    .select(['blocker_id', 'blocked_id'])
    .where((eb) =>
      eb.or([
        eb.and([eb('blocker_id', '=', subjectId), eb('blocked_id', 'in', viewerIds)]),
        eb.and([eb('blocked_id', '=', subjectId), eb('blocker_id', 'in', viewerIds)]),
      ]),
    )
    .execute();
  return new Set(rows.map((r) => (r.blocker_id === subjectId ? r.blocked_id : r.blocker_id)));
}

/** Of `viewerIds`, those connected to `subjectId`. */
async function connectedAmong(db: Kysely<DB>, subjectId: string, viewerIds: string[]): Promise<Set<string>> {
  if (viewerIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('connections')
    .select('peer_id')
    .where('user_id', '=', subjectId)
    .where('state', '=', 'connected')
    .where('peer_id', 'in', viewerIds)
    .execute();
  return new Set(rows.map((r) => r.peer_id));
}

/**
 * Of `viewerIds`, those who sent `subjectId` a message request that `subjectId` has not
 * accepted or answered (or declined: the sender is never told). Until then the sender sees
 * nothing of the recipient's activity.
 */
async function unansweredRequestersOf(db: Kysely<DB>, subjectId: string, viewerIds: string[]): Promise<Set<string>> {
  if (viewerIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('members as mine')
    .innerJoin('conversations as c', 'c.id', 'mine.conversation_id')
    .innerJoin('members as theirs', 'theirs.conversation_id', 'mine.conversation_id')
    .select('theirs.user_id')
    .where('mine.user_id', '=', subjectId)
    .where('mine.state', 'in', ['request', 'declined'])
    .where('c.type', '=', 'direct')
    .where('theirs.user_id', 'in', viewerIds)
    .where('theirs.user_id', '!=', subjectId)
    .execute();
  return new Set(rows.map((r) => r.user_id));
}

/**
 * Of `viewerIds`, who may see `subjectId` online/offline and last seen: the subject's
 * `presence` audience, never across a block (either way), never to someone whose message
 * request the subject has not answered. The subject always sees their own.
 */
export async function presenceVisibleTo(db: Kysely<DB>, subjectId: string, viewerIds: string[]): Promise<Set<string>> {
  const others = [...new Set(viewerIds)].filter((id) => id !== subjectId);
  const out = new Set(viewerIds.includes(subjectId) ? [subjectId] : []);
  if (others.length === 0) return out;
  const settings = (await privacyOf(db, [subjectId])).get(subjectId) ?? DEFAULT_PRIVACY;
  if (settings.presence === 'nobody') return out;
  const [connected, blocked, requesters] = await Promise.all([
    settings.presence === 'connections' ? connectedAmong(db, subjectId, others) : Promise.resolve(null),
    blockedWith(db, subjectId, others),
    unansweredRequestersOf(db, subjectId, others),
  ]);
  for (const id of others) {
    if (!allows(settings.presence, connected?.has(id) ?? false)) continue;
    if (blocked.has(id) || requesters.has(id)) continue;
    out.add(id);
  }
  return out;
}

/** Member states in which someone hears of a conversation (the conversations module's LISTENING). */
const LISTENING: ('active' | 'request')[] = ['active', 'request'];

/** Bounded `in (…)` lists: a viewer with thousands of peers stays within every engine's limits. */
const CHUNK = 1000;

async function inChunks<T>(ids: string[], query: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  if (ids.length <= CHUNK) return ids.length === 0 ? [] : query(ids);
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) out.push(...(await query(ids.slice(i, i + CHUNK))));
  return out;
}

/**
 * Of `subjectIds`, those whose presence `viewerId` may see: the same rules as
 * `presenceVisibleTo`, answered for every subject at once in four queries (their settings,
 * their connections with the viewer, blocks either way, their unanswered requests from the
 * viewer) instead of four per subject. A socket's presence snapshot asks this once.
 */
export async function presenceVisibleToViewer(db: Kysely<DB>, viewerId: string, subjectIds: string[]): Promise<Set<string>> {
  const subjects = [...new Set(subjectIds)].filter((id) => id !== viewerId);
  const out = new Set(subjectIds.includes(viewerId) ? [viewerId] : []);
  if (subjects.length === 0) return out;
  const settings = await inChunks(subjects, (ids) => db.selectFrom('users').select(['id', 'presence']).where('id', 'in', ids).execute());
  // A subject without a row (gone) falls back to the default, as in presenceVisibleTo.
  const audience = new Map<string, Audience>(subjects.map((id) => [id, DEFAULT_PRIVACY.presence]));
  for (const r of settings) audience.set(r.id, r.presence as Audience);
  const open = subjects.filter((id) => audience.get(id) !== 'nobody');
  if (open.length === 0) return out;
  const byConnection = open.filter((id) => audience.get(id) === 'connections');
  const [connected, blocked, requested] = await Promise.all([
    inChunks(byConnection, (ids) =>
      db.selectFrom('connections').select('user_id as id').where('user_id', 'in', ids).where('peer_id', '=', viewerId).where('state', '=', 'connected').execute(),
    ),
    inChunks(open, (ids) =>
      db
        .selectFrom('blocks')
        .select(['blocker_id', 'blocked_id'])
        .where((eb) =>
          eb.or([
            eb.and([eb('blocker_id', '=', viewerId), eb('blocked_id', 'in', ids)]),
            eb.and([eb('blocked_id', '=', viewerId), eb('blocker_id', 'in', ids)]),
          ]),
        )
        .execute(),
    ),
    // Subjects who have not answered a message request from the viewer.
    inChunks(open, (ids) =>
      db
        .selectFrom('members as theirs')
        .innerJoin('conversations as c', 'c.id', 'theirs.conversation_id')
        .innerJoin('members as mine', 'mine.conversation_id', 'theirs.conversation_id')
        .select('theirs.user_id as id')
        .where('mine.user_id', '=', viewerId)
        .where('c.type', '=', 'direct')
        .where('theirs.user_id', 'in', ids)
        .where('theirs.state', 'in', ['request', 'declined'])
        .execute(),
    ),
  ]);
  const connectedSet = new Set(connected.map((r) => r.id));
  const hidden = new Set([...blocked.map((r) => (r.blocker_id === viewerId ? r.blocked_id : r.blocker_id)), ...requested.map((r) => r.id)]);
  for (const id of open) {
    if (!allows(audience.get(id)!, connectedSet.has(id)) || hidden.has(id)) continue;
    out.add(id);
  }
  return out;
}

/** One compiled query per database, built on first use. */
function perDatabase<F>(compile: (db: Kysely<DB>) => F): (db: Kysely<DB>) => F {
  const compiled = new WeakMap<Kysely<DB>, F>();
  return (db) => {
    let f = compiled.get(db);
    if (!f) compiled.set(db, (f = compile(db)));
    return f;
  };
}

// A connecting socket runs these two: built and compiled once, then only bound (precompile).
const candidatesQuery = perDatabase((db) =>
  precompile(1, (viewerId: string) =>
    db
      .selectFrom('connections')
      .select('peer_id as id')
      .where('user_id', '=', viewerId)
      .where('state', '=', 'connected')
      .union(
        db
          .selectFrom('members as mine')
          .innerJoin('members as theirs', 'theirs.conversation_id', 'mine.conversation_id')
          .innerJoin('users as u', 'u.id', 'theirs.user_id')
          .select('theirs.user_id as id')
          .where('mine.user_id', '=', viewerId)
          .where('mine.state', 'in', LISTENING)
          .where('theirs.state', 'in', LISTENING)
          .where('theirs.user_id', '!=', viewerId)
          .where('u.presence', '=', 'everyone'),
      ),
  ),
);

const audienceQuery = perDatabase((db) =>
  precompile(1, (subjectId: string) =>
    db
      .selectFrom('connections as c')
      .innerJoin('users as s', 's.id', 'c.user_id')
      .select('c.peer_id as id')
      .where('c.user_id', '=', subjectId)
      .where('c.state', '=', 'connected')
      .where('s.presence', 'in', ['connections', 'everyone'])
      .union(
        db
          .selectFrom('members as mine')
          .innerJoin('users as s', 's.id', 'mine.user_id')
          .innerJoin('members as theirs', 'theirs.conversation_id', 'mine.conversation_id')
          .select('theirs.user_id as id')
          .where('mine.user_id', '=', subjectId)
          .where('s.presence', '=', 'everyone')
          .where('mine.state', 'in', LISTENING)
          .where('theirs.state', 'in', LISTENING)
          .where('theirs.user_id', '!=', subjectId),
      ),
  ),
);

/**
 * Everyone whose presence `viewerId` might see, before the rules are applied: their
 * connections, and the people sharing a conversation with them whose presence is public.
 * A co-member whose presence is for connections only (the default) is visible only if
 * connected, so the viewer's connections already hold them: a socket's snapshot no longer
 * grows with the size of its groups. One query.
 */
export async function presenceCandidatesFor(db: Kysely<DB>, viewerId: string): Promise<string[]> {
  return (await candidatesQuery(db)(db, viewerId)).map((r) => r.id);
}

/**
 * Who may see `subjectId`'s presence now, found from their setting in the same query:
 * nobody; their connections (the default); or their connections and everyone sharing a
 * conversation with them. Then blocks either way and unanswered requests are taken out.
 * Three queries at most, whatever the size of the subject's groups when their setting is
 * the default.
 */
export async function presenceViewersOf(db: Kysely<DB>, subjectId: string): Promise<string[]> {
  const rows = await audienceQuery(db)(db, subjectId);
  const candidates = rows.map((r) => r.id).filter((id) => id !== subjectId);
  if (candidates.length === 0) return [];
  const [blocked, requesters] = await Promise.all([
    inChunks(candidates, async (ids) => [...(await blockedWith(db, subjectId, ids))]),
    inChunks(candidates, async (ids) => [...(await unansweredRequestersOf(db, subjectId, ids))]),
  ]);
  const hidden = new Set([...blocked, ...requesters]);
  return candidates.filter((id) => !hidden.has(id));
}

/** Of `viewerIds`, the members of `conversationId` and their state there. */
async function statesIn(db: Kysely<DB>, conversationId: string, userIds: string[]): Promise<Map<string, string>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.selectFrom('members').select(['user_id', 'state']).where('conversation_id', '=', conversationId).where('user_id', 'in', userIds).execute();
  return new Map(rows.map((r) => [r.user_id, r.state]));
}

/**
 * Of `viewerIds`, who may see `subjectId` typing in `conversationId`: active members only
 * (nobody sees typing into or out of an unanswered request), never across a block.
 */
export async function typingVisibleTo(db: Kysely<DB>, subjectId: string, conversationId: string, viewerIds: string[]): Promise<Set<string>> {
  const others = [...new Set(viewerIds)].filter((id) => id !== subjectId);
  const out = new Set<string>();
  const [states, blocked] = await Promise.all([statesIn(db, conversationId, [subjectId, ...others]), blockedWith(db, subjectId, others)]);
  if (states.get(subjectId) !== 'active') return out;
  for (const id of others) if (states.get(id) === 'active' && !blocked.has(id)) out.add(id);
  return out;
}

/**
 * Of `viewerIds`, who may see `subjectId`'s read marker in `conversationId`. Read receipts
 * are reciprocal (as in WhatsApp): with `readReceipts` off you neither send nor see them.
 * Never across a block or out of an unanswered request. Delivery markers are not receipts
 * of attention and are not filtered here.
 */
export async function readMarkerVisibleTo(db: Kysely<DB>, subjectId: string, conversationId: string, viewerIds: string[]): Promise<Set<string>> {
  const others = [...new Set(viewerIds)].filter((id) => id !== subjectId);
  const out = new Set<string>();
  if (others.length === 0) return out;
  const [settings, states, blocked] = await Promise.all([
    privacyOf(db, [subjectId, ...others]),
    statesIn(db, conversationId, [subjectId, ...others]),
    blockedWith(db, subjectId, others),
  ]);
  if (!(settings.get(subjectId) ?? DEFAULT_PRIVACY).readReceipts) return out;
  if (states.get(subjectId) !== 'active') return out;
  for (const id of others) {
    if (!(settings.get(id) ?? DEFAULT_PRIVACY).readReceipts) continue;
    if (states.get(id) !== 'active' || blocked.has(id)) continue;
    out.add(id);
  }
  return out;
}

/** Everyone who might see `userId`'s presence at all: connections and people sharing a conversation. */
export async function presenceAudienceOf(db: Kysely<DB>, userId: string): Promise<string[]> {
  const [connected, sharing] = await Promise.all([
    db.selectFrom('connections').select('peer_id as id').where('user_id', '=', userId).where('state', '=', 'connected').execute(),
    db
      .selectFrom('members as theirs')
      .innerJoin('members as mine', 'mine.conversation_id', 'theirs.conversation_id')
      .select('theirs.user_id as id')
      .where('mine.user_id', '=', userId)
      .where('theirs.user_id', '!=', userId)
      .distinct()
      .execute(),
  ]);
  return [...new Set([...connected, ...sharing].map((r) => r.id))];
}

/**
 * The presence event for viewers who could see `subjectId` and no longer may (a block, a
 * stricter setting): they see them go offline, which is what anyone sees when someone
 * leaves, so it reveals nothing; the last-seen time is withheld.
 */
export function presenceWithdrawn(subjectId: string, before: Set<string>, after: Set<string>): DomainEvent | null {
  const lost = [...before].filter((id) => id !== subjectId && !after.has(id));
  return lost.length ? { type: 'presence', userId: subjectId, status: 'offline', lastSeenAt: null, recipientIds: lost } : null;
}
