import { DEFAULT_PRIVACY } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { DomainEvent } from '../../bus/events.ts';
import type { DB } from '../../storage/db.ts';
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
