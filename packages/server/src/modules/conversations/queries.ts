import type { Conversation, MemberState, Role } from '@parley/protocol';
import type { Kysely, Selectable } from 'kysely';
import type { DB } from '../../storage/db.ts';
import { precompile, toBool } from '../../storage/db.ts';
import type { ConversationsTable, MembersTable } from '../../storage/schema.ts';

export type ConversationRow = Selectable<ConversationsTable>;
export type MemberRow = Selectable<MembersTable>;

/** Member states that still hear of the conversation; a declined request is hidden from its recipient. */
export const LISTENING: MemberState[] = ['active', 'request'];

export interface Membership {
  conversationId: string;
  userId: string;
  type: 'direct' | 'group';
  role: Role;
  state: MemberState;
  joinedSeq: number;
  readSeq: number;
  deliveredSeq: number;
  requestSent: number;
  lastSeq: number;
  disappearingSeconds: number;
}

export async function findMembership(db: Kysely<DB>, userId: string, conversationId: string): Promise<Membership | null> {
  const row = await db
    .selectFrom('members as m')
    .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
    .select(['m.conversation_id', 'm.user_id', 'c.type', 'm.role', 'm.state', 'm.joined_seq', 'm.read_seq', 'm.delivered_seq', 'm.request_sent', 'c.last_seq', 'c.disappearing_seconds'])
    .where('m.conversation_id', '=', conversationId)
    .where('m.user_id', '=', userId)
    .executeTakeFirst();
  if (!row) return null;
  return {
    conversationId: row.conversation_id,
    userId: row.user_id,
    type: row.type,
    role: row.role,
    state: row.state,
    joinedSeq: row.joined_seq,
    readSeq: row.read_seq,
    deliveredSeq: row.delivered_seq,
    requestSent: row.request_sent,
    lastSeq: row.last_seq,
    disappearingSeconds: row.disappearing_seconds,
  };
}

export async function listeningMemberIds(db: Kysely<DB>, conversationId: string): Promise<string[]> {
  const rows = await db.selectFrom('members').select('user_id').where('conversation_id', '=', conversationId).where('state', 'in', LISTENING).execute();
  return rows.map((r) => r.user_id);
}

export async function peerIdsOf(db: Kysely<DB>, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('members as me')
    .innerJoin('members as peer', 'peer.conversation_id', 'me.conversation_id')
    .select('peer.user_id')
    .distinct()
    .where('me.user_id', '=', userId)
    .where('me.state', 'in', LISTENING)
    .where('peer.state', 'in', LISTENING)
    .where('peer.user_id', '!=', userId)
    .execute();
  return rows.map((r) => r.user_id);
}

/** Ids per view query; a longer list is read in chunks of this many. */
const CHUNK = 512;

/**
 * The two queries of `buildViews` for a list of `n` ids, built and compiled once per
 * database and list length (Kysely's builder and compiler cost more than the statements on
 * the sync path: every reconnecting device asks). Lists are padded to a power of two with
 * their first id repeated (harmless in `in (…)`), so a database holds at most ten shapes
 * of each, not one per list length.
 *
 * - `head`: each conversation joined with the caller's own member row, and the caller's
 *   unread count as a subquery per conversation (a range of the (conversation_id, seq)
 *   index from their read marker, as the separate grouped count read it).
 * - `members`: the member lists, three columns a member and the conversation's id when
 *   there are several (a group of 100 is 100 rows on every sync of each of its devices;
 *   the caller's own settings come with `head`).
 */
function compileViews(db: Kysely<DB>, n: number) {
  const head = precompile(n + 2, (userId: string, now: string, ...ids: string[]) =>
    db
      .selectFrom('conversations as c')
      .innerJoin('members as me', (j) => j.onRef('me.conversation_id', '=', 'c.id').on('me.user_id', '=', userId))
      .select((eb) => [
        'c.id', 'c.type', 'c.title', 'c.description', 'c.avatar_attachment_id', 'c.info_policy', 'c.last_seq', 'c.disappearing_seconds', 'c.created_at', 'c.updated_at',
        'me.state', 'me.muted', 'me.muted_until', 'me.archived', 'me.pinned_at',
        eb
          .selectFrom('messages as msg')
          .select(eb.fn.countAll<number | string>().as('n'))
          .whereRef('msg.conversation_id', '=', 'c.id')
          .whereRef('msg.seq', '>', 'me.read_seq')
          .whereRef('msg.seq', '>=', 'me.joined_seq')
          .where('msg.sender_id', '!=', userId)
          .where('msg.kind', '=', 'message')
          .where('msg.deleted_at', 'is', null)
          .where((w) => w.or([w('msg.expires_at', 'is', null), w('msg.expires_at', '>', now)]))
          .as('unread'),
      ])
      .where('c.id', 'in', ids),
  );
  type ListRow = { conversation_id?: string; user_id: string; role: Role; state: MemberState };
  // One conversation (a view, or a device's sync after a group's messages): its id is known,
  // and not reading it again for every member is a quarter of the statement's cost.
  const members: (db: Kysely<DB>, ...ids: string[]) => Promise<ListRow[]> =
    n === 1
      ? precompile(1, (id: string) => db.selectFrom('members').select(['user_id', 'role', 'state']).where('conversation_id', '=', id).orderBy('joined_at').orderBy('user_id'))
      : precompile(n, (...ids: string[]) =>
          db.selectFrom('members').select(['conversation_id', 'user_id', 'role', 'state']).where('conversation_id', 'in', ids).orderBy('joined_at').orderBy('user_id'),
        );
  return { head, members };
}

type ViewQueries = ReturnType<typeof compileViews>;
const viewQueries = new WeakMap<Kysely<DB>, Map<number, ViewQueries>>();

function viewQueriesFor(db: Kysely<DB>, n: number): ViewQueries {
  let byLength = viewQueries.get(db);
  if (!byLength) viewQueries.set(db, (byLength = new Map()));
  let queries = byLength.get(n);
  if (!queries) byLength.set(n, (queries = compileViews(db, n)));
  return queries;
}

/**
 * The per-user views of several conversations, in the order asked. A conversation the user
 * is not a member of is left out. Others see a declined request as still pending: declining
 * tells the sender nothing.
 */
export async function buildViews(db: Kysely<DB>, userId: string, ids: string[], now = new Date().toISOString()): Promise<Conversation[]> {
  const out: Conversation[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) out.push(...(await buildChunk(db, userId, ids.slice(i, i + CHUNK), now)));
  return out;
}

async function buildChunk(db: Kysely<DB>, userId: string, ids: string[], now: string): Promise<Conversation[]> {
  if (ids.length === 0) return [];
  let n = 1;
  while (n < ids.length) n *= 2;
  const padded = ids.length === n ? ids : [...ids, ...Array<string>(n - ids.length).fill(ids[0]!)];
  const queries = viewQueriesFor(db, n);
  const [heads, members] = await Promise.all([queries.head(db, userId, now, ...padded), queries.members(db, ...padded)]);
  const byConv = new Map<string, { userId: string; role: Role; state: MemberState }[]>();
  for (const m of members) {
    const conversationId = m.conversation_id ?? ids[0]!;
    let list = byConv.get(conversationId);
    if (!list) byConv.set(conversationId, (list = []));
    list.push({ userId: m.user_id, role: m.role, state: m.state === 'declined' && m.user_id !== userId ? 'request' : m.state });
  }
  const headBy = new Map(heads.map((h) => [h.id, h]));
  const out: Conversation[] = [];
  for (const id of ids) {
    const c = headBy.get(id);
    if (!c) continue;
    const muted = isMuted(c, now);
    out.push({
      id: c.id,
      type: c.type,
      title: c.title,
      description: c.description,
      avatarAttachmentId: c.avatar_attachment_id,
      // A direct conversation's two members may both change what it has (its timer).
      infoEditableBy: c.type === 'direct' || c.info_policy === 'members' ? 'members' : 'admins',
      members: byConv.get(id) ?? [],
      myState: c.state,
      lastSeq: c.last_seq,
      unreadCount: Number(c.unread ?? 0),
      muted,
      mutedUntil: muted ? c.muted_until : null,
      archived: toBool(c.archived),
      pinned: c.pinned_at !== null,
      disappearingSeconds: c.disappearing_seconds,
      createdAt: c.created_at,
      updatedAt: c.updated_at,
    });
  }
  return out;
}

/** Muted now: a mute with an end time ends by itself, without a write. */
export function isMuted(m: { muted: number; muted_until: string | null }, nowIso: string): boolean {
  return toBool(m.muted) && (m.muted_until === null || m.muted_until > nowIso);
}

export type Folder = 'inbox' | 'requests' | 'archived';

/** Where a page starts: after this conversation, in the pinned tier or the rest. */
export interface FolderPosition {
  pinned: boolean;
  updatedAt: string;
  id: string;
}

export interface ListPage {
  ids: string[];
  next: FolderPosition | null;
}

/**
 * One page of a folder, keyset-paged. The inbox lists my pinned conversations first (at most
 * a handful), then the rest; each tier most recently active first, on (updated_at, id).
 * Archived conversations are only in the archived folder; requests are never archived.
 */
export async function listFolder(db: Kysely<DB>, userId: string, folder: Folder, limit: number, after: FolderPosition | null): Promise<ListPage> {
  const tier = (pinned: boolean | null, from: FolderPosition | null, n: number) => {
    let q = db
      .selectFrom('members as me')
      .innerJoin('conversations as c', 'c.id', 'me.conversation_id')
      .select(['c.id', 'c.updated_at'])
      .where('me.user_id', '=', userId)
      .where('me.state', '=', folder === 'requests' ? 'request' : 'active');
    // A message request reaches its recipient with its first message, not when it is opened.
    if (folder === 'requests') q = q.where('c.last_seq', '>', 0);
    if (folder === 'inbox') q = q.where('me.archived', '=', 0);
    if (folder === 'archived') q = q.where('me.archived', '=', 1);
    if (pinned !== null) q = q.where('me.pinned_at', pinned ? 'is not' : 'is', null);
    if (from) {
      q = q.where((eb) => eb.or([eb('c.updated_at', '<', from.updatedAt), eb.and([eb('c.updated_at', '=', from.updatedAt), eb('c.id', '<', from.id)])]));
    }
    return q.orderBy('c.updated_at', 'desc').orderBy('c.id', 'desc').limit(n).execute();
  };
  const rows: { id: string; updated_at: string; pinned: boolean }[] = [];
  if (folder === 'inbox') {
    if (!after || after.pinned) rows.push(...(await tier(true, after, limit + 1)).map((r) => ({ ...r, pinned: true })));
    if (rows.length <= limit) rows.push(...(await tier(false, after && !after.pinned ? after : null, limit + 1 - rows.length)).map((r) => ({ ...r, pinned: false })));
  } else {
    rows.push(...(await tier(null, after, limit + 1)).map((r) => ({ ...r, pinned: false })));
  }
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { ids: page.map((r) => r.id), next: rows.length > limit && last ? { pinned: last.pinned, updatedAt: last.updated_at, id: last.id } : null };
}
