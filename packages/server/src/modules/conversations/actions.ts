import { LIMITS, type Conversation, type InfoEditableBy, type Invite, type Role } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { AppContext, Caller } from '../../context.ts';
import { AppError, notFound } from '../../errors.ts';
import { randomToken, tokenHash, uuidv7 } from '../../ids.ts';
import type { DB } from '../../storage/db.ts';
import { fromBool } from '../../storage/db.ts';
import type { Graph } from '../graph/index.ts';
import { ChangeClock } from './change-clock.ts';
import { appendSystem, toEnvelope, type MessageRow } from './envelope-log.ts';
import { buildViews, findMembership, listeningMemberIds, listFolder, peerIdsOf, type ConversationRow, type Folder, type FolderPosition, type Membership } from './queries.ts';
import { changesSince } from './sync.ts';

/** What a change of avatar needs from the attachments module: delete the old picture once nothing uses it. */
export interface AttachmentCleanup {
  /** Inside the transaction: delete the rows of those of `ids` nothing uses any more; returns them. */
  deleteUnused(trx: Kysely<DB>, ids: readonly string[]): Promise<string[]>;
  /** After the commit: delete their bytes. */
  discardBlobs(ids: readonly string[]): Promise<void>;
}

export interface ConversationsDeps {
  graph: Graph;
  attachments?: AttachmentCleanup;
}

/** A PATCH of a conversation, validated by the route. */
export interface ConversationChange {
  title?: string | undefined;
  description?: string | undefined;
  avatarAttachmentId?: string | null | undefined;
  infoEditableBy?: InfoEditableBy | undefined;
  disappearingSeconds?: number | undefined;
}

/** A PUT of my settings, validated by the route. */
export interface SettingsChange {
  muted?: boolean | undefined;
  mutedUntil?: string | null | undefined;
  archived?: boolean | undefined;
  pinned?: boolean | undefined;
}

export type NotAddedReason = 'not_allowed' | 'not_found' | 'member_limit';
export interface NotAdded {
  userId: string;
  reason: NotAddedReason;
}

const hashInvite = tokenHash;

/** Seconds until the next UTC midnight, when the daily counters roll over. */
function secondsToUtcMidnight(ms: number): number {
  const d = new Date(ms);
  return Math.max(1, Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - ms) / 1000));
}

/** PostgreSQL: deadlock detected, serialization failure. */
const RETRYABLE = new Set(['40P01', '40001']);

const directKey = (a: string, b: string) => [a, b].sort().join(':');

/** A new member row: nothing read, nothing muted. */
function memberRow(conversationId: string, userId: string, role: Role, state: 'active' | 'request', joinedSeq: number, stamp: string) {
  return {
    conversation_id: conversationId,
    user_id: userId,
    role,
    state,
    joined_at: stamp,
    joined_seq: joinedSeq,
    read_seq: 0,
    delivered_seq: 0,
    request_sent: 0,
    muted: 0,
    muted_until: null,
    archived: 0,
    pinned_at: null,
    updated_at: stamp,
  };
}

const isAdmin = (role: Role) => role === 'owner' || role === 'admin';

export function createConversations(ctx: AppContext, deps: ConversationsDeps) {
  const { db, config } = ctx;
  const { graph } = deps;
  // Several processes on one PostgreSQL cannot see each other's in-flight writes: re-read a margin.
  const clock = new ChangeClock(ctx.bus.kind === 'redis' ? 2000 : 0);

  /** One transaction with a change stamp; events go out only once it committed. */
  async function write<T>(fn: (trx: Kysely<DB>, stamp: string, ms: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await clock.write((stamp, ms) => ctx.database.write((trx) => fn(trx, stamp, ms)));
      } catch (err) {
        // PostgreSQL may pick this transaction as a deadlock victim: it was rolled back whole,
        // so running it again is safe (nothing was emitted).
        if (attempt >= 3 || !RETRYABLE.has((err as { code?: string })?.code ?? '')) throw err;
      }
    }
  }

  async function view(userId: string, conversationId: string): Promise<Conversation | null> {
    const [v] = await buildViews(db, userId, [conversationId]);
    return v ?? null;
  }

  async function viewOrThrow(userId: string, conversationId: string): Promise<Conversation> {
    const v = await view(userId, conversationId);
    if (!v) throw notFound('no such conversation');
    return v;
  }

  /** The caller's membership, or 404 as for a conversation that does not exist. */
  async function memberOf(caller: Caller, conversationId: string): Promise<Membership> {
    const m = await findMembership(db, caller.userId, conversationId);
    if (!m) throw notFound('no such conversation');
    return m;
  }

  /** An active member of a group, or the matching error. */
  async function groupMember(caller: Caller, conversationId: string): Promise<Membership> {
    const m = await memberOf(caller, conversationId);
    if (m.type !== 'group') throw new AppError('forbidden', 'a direct conversation has exactly its two members');
    if (m.state !== 'active') throw new AppError('forbidden', 'not an active member');
    return m;
  }

  function announce(conversationId: string, recipients: string[], envelopes: MessageRow[]): void {
    for (const row of envelopes) ctx.emit({ type: 'message', conversationId, recipientIds: recipients, envelope: toEnvelope(row) });
    if (envelopes.length) ctx.metrics.messagesSent.add(envelopes.length, 'system');
    ctx.emit({ type: 'conversation.changed', conversationId, recipientIds: recipients });
  }

  /** Users who exist (not deleted), of `ids`. */
  async function existingUsers(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await db.selectFrom('users').select('id').where('id', 'in', ids).where('deleted_at', 'is', null).execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Sort candidates into those the adder may add and why the others may not be. */
  async function screen(adderId: string, candidates: string[], room: number): Promise<{ add: string[]; notAdded: NotAdded[] }> {
    const exists = await existingUsers(candidates);
    const add: string[] = [];
    const notAdded: NotAdded[] = [];
    for (const id of candidates) {
      if (!exists.has(id)) notAdded.push({ userId: id, reason: 'not_found' });
      else if (!(await graph.mayAddToGroup(adderId, id))) notAdded.push({ userId: id, reason: 'not_allowed' });
      else if (add.length >= room) notAdded.push({ userId: id, reason: 'member_limit' });
      else add.push(id);
    }
    return { add, notAdded };
  }

  /** Count one more message request opened today; past the cap, refuse until midnight UTC. */
  async function countRequest(trx: Kysely<DB>, userId: string, ms: number): Promise<void> {
    const day = new Date(ms).toISOString().slice(0, 10);
    const row = await trx
      .insertInto('daily_counters')
      .values({ user_id: userId, name: 'requests', day, count: 1 })
      .onConflict((oc) => oc.columns(['user_id', 'name', 'day']).doUpdateSet((eb) => ({ count: eb('daily_counters.count', '+', 1) })))
      .returning('count')
      .executeTakeFirstOrThrow();
    if (row.count > config.requestsPerDay) {
      throw new AppError('rate_limited', `at most ${config.requestsPerDay} new message requests a day`, { retryAfter: secondsToUtcMidnight(ms) });
    }
  }

  async function openExistingDirect(caller: Caller, conversationId: string): Promise<Conversation> {
    const m = await findMembership(db, caller.userId, conversationId);
    // Opening a conversation one had a request in, or had declined, answers it.
    if (m && m.state !== 'active') await setState(caller.userId, conversationId, 'active');
    return viewOrThrow(caller.userId, conversationId);
  }

  async function setState(userId: string, conversationId: string, state: 'active' | 'declined'): Promise<void> {
    const changed = await write(async (trx, stamp) => {
      const res = await trx
        .updateTable('members')
        .set({ state, updated_at: stamp })
        .where('conversation_id', '=', conversationId)
        .where('user_id', '=', userId)
        .where('state', '!=', state)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      // Accepting changes what the other side sees; declining must not (it stays silent).
      if (state === 'active') await trx.updateTable('conversations').set({ updated_at: stamp }).where('id', '=', conversationId).execute();
      return true;
    });
    if (!changed) return;
    if (state === 'active') ctx.emit({ type: 'conversation.changed', conversationId, recipientIds: await listeningMemberIds(db, conversationId) });
    else ctx.emit({ type: 'conversation.removed', conversationId, recipientIds: [userId] });
  }

  async function addRemoval(trx: Kysely<DB>, conversationId: string, userId: string, stamp: string): Promise<void> {
    await trx
      .insertInto('removals')
      .values({ conversation_id: conversationId, user_id: userId, removed_at: stamp })
      .onConflict((oc) => oc.columns(['user_id', 'conversation_id']).doUpdateSet({ removed_at: stamp }))
      .execute();
  }

  async function insertMembers(trx: Kysely<DB>, conversationId: string, userIds: string[], joinedSeq: number, stamp: string): Promise<void> {
    if (userIds.length === 0) return;
    await trx
      .insertInto('members')
      .values(userIds.map((userId) => memberRow(conversationId, userId, 'member', 'active', joinedSeq, stamp)))
      .execute();
    await trx.deleteFrom('removals').where('conversation_id', '=', conversationId).where('user_id', 'in', userIds).execute();
  }

  async function memberCount(trx: Kysely<DB>, conversationId: string): Promise<number> {
    const row = await trx.selectFrom('members').select((eb) => eb.fn.countAll<number>().as('n')).where('conversation_id', '=', conversationId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  return {
    clock,
    view,
    membership: (userId: string, conversationId: string) => findMembership(db, userId, conversationId),
    /** Everyone who should hear of the conversation (a declined request's recipient does not). */
    memberIds: (conversationId: string) => listeningMemberIds(db, conversationId),
    /** Everyone sharing a conversation with the user (presence goes to them). */
    peerIds: (userId: string) => peerIdsOf(db, userId),
    /** A sync cursor for this moment (the socket's `ready` frame). */
    currentCursor: () => clock.cursor(),
    write,

    async get(caller: Caller, conversationId: string): Promise<Conversation> {
      return viewOrThrow(caller.userId, conversationId);
    },

    async list(caller: Caller, folder: Folder, limit: number, cursor: string | undefined): Promise<{ conversations: Conversation[]; nextCursor: string | null }> {
      let after: FolderPosition | null = null;
      if (cursor) {
        const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
        // Cursors of before pinning had no tier: they were in the unpinned one.
        const [tier, updatedAt, id] = parts.length === 2 ? ['u', ...parts] : parts;
        if ((tier !== 'p' && tier !== 'u') || !updatedAt || !id || Number.isNaN(Date.parse(updatedAt))) {
          throw new AppError('invalid_request', 'query.cursor: not a cursor this server issued', { data: { field: 'query.cursor' } });
        }
        after = { pinned: tier === 'p', updatedAt, id };
      }
      const page = await listFolder(db, caller.userId, folder, limit, after);
      return {
        conversations: await buildViews(db, caller.userId, page.ids),
        nextCursor: page.next ? Buffer.from(`${page.next.pinned ? 'p' : 'u'}|${page.next.updatedAt}|${page.next.id}`).toString('base64url') : null,
      };
    },

    /**
     * The direct conversation with `otherId`: the existing one, or a new one. A stranger's
     * inbox is reached only through their requests folder, and a block reads exactly like
     * privacy settings that forbid contact.
     */
    async createDirect(caller: Caller, otherId: string): Promise<{ conversation: Conversation; created: boolean }> {
      if (otherId === caller.userId) throw new AppError('invalid_request', 'body.userId: that is you', { data: { field: 'body.userId' } });
      if (!(await existingUsers([otherId])).has(otherId)) throw notFound('no such user');
      const key = directKey(caller.userId, otherId);
      const existing = await db.selectFrom('conversations').select('id').where('direct_key', '=', key).executeTakeFirst();
      if (existing) {
        if (await graph.blockedEitherWay(caller.userId, otherId)) throw new AppError('messaging_not_allowed', 'you cannot message this person');
        return { conversation: await openExistingDirect(caller, existing.id), created: false };
      }
      const reach = await graph.reach(caller.userId, otherId);
      if (reach === 'denied') throw new AppError('messaging_not_allowed', 'you cannot message this person');
      const id = uuidv7();
      try {
        await write(async (trx, stamp, ms) => {
          if (reach === 'request') await countRequest(trx, caller.userId, ms);
          await trx
            .insertInto('conversations')
            .values({ id, type: 'direct', direct_key: key, title: null, description: '', avatar_attachment_id: null, info_policy: 'members', last_seq: 0, disappearing_seconds: 0, created_by: caller.userId, created_at: stamp, updated_at: stamp })
            .execute();
          await trx
            .insertInto('members')
            .values([
              memberRow(id, caller.userId, 'member', 'active', 1, stamp),
              memberRow(id, otherId, 'member', reach === 'allowed' ? 'active' : 'request', 1, stamp),
            ])
            .execute();
        });
      } catch (err) {
        // Two racing creates: the unique direct_key lets one win; the other returns the winner's.
        if (!ctx.database.isUniqueViolation(err)) throw err;
        const winner = await db.selectFrom('conversations').select('id').where('direct_key', '=', key).executeTakeFirst();
        if (!winner) throw err;
        return { conversation: await openExistingDirect(caller, winner.id), created: false };
      }
      // A stranger hears of a message request with its first message (see messages' send).
      ctx.emit({ type: 'conversation.changed', conversationId: id, recipientIds: reach === 'allowed' ? [caller.userId, otherId] : [caller.userId] });
      return { conversation: await viewOrThrow(caller.userId, id), created: true };
    },

    async createGroup(caller: Caller, title: string, memberIds: string[]): Promise<{ conversation: Conversation; notAdded: NotAdded[] }> {
      const candidates = [...new Set(memberIds)].filter((u) => u !== caller.userId);
      const { add, notAdded } = await screen(caller.userId, candidates, config.groupMemberCap - 1);
      const id = uuidv7();
      await write(async (trx, stamp) => {
        await trx
          .insertInto('conversations')
          .values({ id, type: 'group', direct_key: null, title, description: '', avatar_attachment_id: null, info_policy: 'admins', last_seq: 0, disappearing_seconds: 0, created_by: caller.userId, created_at: stamp, updated_at: stamp })
          .execute();
        await trx.insertInto('members').values(memberRow(id, caller.userId, 'owner', 'active', 1, stamp)).execute();
        await insertMembers(trx, id, add, 1, stamp);
      });
      ctx.emit({ type: 'conversation.changed', conversationId: id, recipientIds: [caller.userId, ...add] });
      return { conversation: await viewOrThrow(caller.userId, id), notAdded };
    },

    /**
     * Change what the conversation is. Groups: title, description and avatar by whoever
     * `infoEditableBy` names (admins by default); the policy itself and the disappearing timer
     * by admins. Direct conversations: only the timer, by either member. Every change is a
     * system envelope; a replaced avatar is deleted once nothing else uses it.
     */
    async update(caller: Caller, conversationId: string, patch: ConversationChange): Promise<Conversation> {
      const m = await memberOf(caller, conversationId);
      if (m.state !== 'active') throw new AppError('forbidden', 'answer the message request first');
      const conv = await db
        .selectFrom('conversations')
        .select(['title', 'description', 'avatar_attachment_id', 'disappearing_seconds', 'info_policy'])
        .where('id', '=', conversationId)
        .executeTakeFirstOrThrow();
      if (m.type === 'direct') {
        for (const field of ['title', 'description', 'avatarAttachmentId', 'infoEditableBy'] as const) {
          if (patch[field] !== undefined) throw new AppError('invalid_request', `body.${field}: a direct conversation has no ${field}`, { data: { field: `body.${field}` } });
        }
      }
      const changed = <T>(next: T | undefined, current: T): next is T => next !== undefined && next !== current;
      const title = changed(patch.title, conv.title) ? patch.title : undefined;
      const description = changed(patch.description, conv.description) ? patch.description : undefined;
      const avatar = changed(patch.avatarAttachmentId, conv.avatar_attachment_id) ? patch.avatarAttachmentId : undefined;
      const policy = changed(patch.infoEditableBy, conv.info_policy) ? patch.infoEditableBy : undefined;
      const seconds = changed(patch.disappearingSeconds, conv.disappearing_seconds) ? patch.disappearingSeconds : undefined;
      if (m.type === 'group') {
        const infoChange = title !== undefined || description !== undefined || avatar !== undefined;
        if (infoChange && conv.info_policy !== 'members' && !isAdmin(m.role)) throw new AppError('forbidden', 'only admins change the group’s info');
        if ((policy !== undefined || seconds !== undefined) && !isAdmin(m.role)) throw new AppError('forbidden', 'only admins change the group’s settings');
      }
      if (avatar) {
        const owned = await db.selectFrom('attachments').select('id').where('id', '=', avatar).where('owner_id', '=', caller.userId).executeTakeFirst();
        if (!owned) throw new AppError('invalid_request', 'body.avatarAttachmentId: must be an attachment you uploaded', { data: { field: 'body.avatarAttachmentId' } });
      }
      if (title === undefined && description === undefined && avatar === undefined && policy === undefined && seconds === undefined) return viewOrThrow(caller.userId, conversationId);
      const { envelopes, discarded } = await write(async (trx, stamp) => {
        const out: MessageRow[] = [];
        let discarded: string[] = [];
        const set = (values: Partial<Pick<ConversationRow, 'title' | 'description' | 'avatar_attachment_id' | 'info_policy' | 'disappearing_seconds'>>) =>
          trx.updateTable('conversations').set(values).where('id', '=', conversationId).execute();
        if (title !== undefined) {
          await set({ title });
          out.push(await appendSystem(trx, conversationId, caller, 'title_changed', { title }, stamp));
        }
        if (description !== undefined) {
          await set({ description });
          out.push(await appendSystem(trx, conversationId, caller, 'description_changed', { description }, stamp));
        }
        if (avatar !== undefined) {
          // The picture being replaced, read under the row's lock: two changes at once must not leave one behind.
          await trx.updateTable('conversations').set((eb) => ({ id: eb.ref('id') })).where('id', '=', conversationId).execute();
          const { avatar_attachment_id: previous } = await trx.selectFrom('conversations').select('avatar_attachment_id').where('id', '=', conversationId).executeTakeFirstOrThrow();
          await set({ avatar_attachment_id: avatar });
          if (avatar) await trx.updateTable('attachments').set({ referenced_at: stamp }).where('id', '=', avatar).where('referenced_at', 'is', null).execute();
          if (previous && previous !== avatar && deps.attachments) discarded = await deps.attachments.deleteUnused(trx, [previous]);
          out.push(await appendSystem(trx, conversationId, caller, 'avatar_changed', { attachmentId: avatar }, stamp));
        }
        if (policy !== undefined) {
          await set({ info_policy: policy });
          out.push(await appendSystem(trx, conversationId, caller, 'info_policy_changed', { infoEditableBy: policy }, stamp));
        }
        if (seconds !== undefined) {
          await set({ disappearing_seconds: seconds });
          out.push(await appendSystem(trx, conversationId, caller, 'disappearing_changed', { seconds }, stamp));
        }
        return { envelopes: out, discarded };
      });
      if (discarded.length) await deps.attachments?.discardBlobs(discarded);
      announce(conversationId, await listeningMemberIds(db, conversationId), envelopes);
      return viewOrThrow(caller.userId, conversationId);
    },

    async addMembers(caller: Caller, conversationId: string, userIds: string[]): Promise<{ conversation: Conversation; notAdded: NotAdded[] }> {
      const m = await groupMember(caller, conversationId);
      if (!isAdmin(m.role)) throw new AppError('forbidden', 'only admins add members');
      const current = new Set(await listeningMemberIds(db, conversationId));
      const candidates = [...new Set(userIds)].filter((u) => !current.has(u));
      const { add, notAdded } = await screen(caller.userId, candidates, config.groupMemberCap - current.size);
      if (add.length === 0) return { conversation: await viewOrThrow(caller.userId, conversationId), notAdded };
      const result = await write(async (trx, stamp) => {
        // Re-check the cap inside the transaction: concurrent adds must not overshoot it.
        const room = config.groupMemberCap - (await memberCount(trx, conversationId));
        const present = new Set((await trx.selectFrom('members').select('user_id').where('conversation_id', '=', conversationId).where('user_id', 'in', add).execute()).map((r) => r.user_id));
        const fresh = add.filter((u) => !present.has(u));
        const added = fresh.slice(0, Math.max(0, room));
        const over = fresh.slice(added.length).map((userId) => ({ userId, reason: 'member_limit' as const }));
        if (added.length === 0) return { added, over, envelope: null };
        const envelope = await appendSystem(trx, conversationId, caller, 'members_added', { userIds: added }, stamp);
        // New members read from the envelope that announces them, not from before.
        await insertMembers(trx, conversationId, added, envelope.seq, stamp);
        return { added, over, envelope };
      });
      if (result.envelope) announce(conversationId, await listeningMemberIds(db, conversationId), [result.envelope]);
      return { conversation: await viewOrThrow(caller.userId, conversationId), notAdded: [...notAdded, ...result.over] };
    },

    /**
     * Leave (yourself) or remove someone (admins; only the owner removes admins; nobody
     * removes the owner). An owner who leaves hands ownership to the longest-standing admin,
     * else the longest-standing member.
     */
    async removeMember(caller: Caller, conversationId: string, targetId: string): Promise<void> {
      const m = await groupMember(caller, conversationId);
      const leaving = targetId === caller.userId;
      const target = leaving ? m : await findMembership(db, targetId, conversationId);
      if (!target) throw notFound('not a member');
      if (!leaving) {
        if (!isAdmin(m.role)) throw new AppError('forbidden', 'only admins remove members');
        if (target.role === 'owner') throw new AppError('forbidden', 'the owner cannot be removed');
        if (target.role === 'admin' && m.role !== 'owner') throw new AppError('forbidden', 'only the owner removes admins');
      }
      const recipientsBefore = await listeningMemberIds(db, conversationId);
      const envelopes = await write(async (trx, stamp) => {
        const out: MessageRow[] = [];
        let newOwnerId: string | undefined;
        if (leaving && m.role === 'owner') {
          const heir = await trx
            .selectFrom('members')
            .select('user_id')
            .where('conversation_id', '=', conversationId)
            .where('user_id', '!=', caller.userId)
            .orderBy((eb) => eb.case().when('role', '=', 'admin').then(0).else(1).end())
            .orderBy('joined_at')
            .orderBy('user_id')
            .executeTakeFirst();
          if (heir) {
            newOwnerId = heir.user_id;
            await trx.updateTable('members').set({ role: 'owner', updated_at: stamp }).where('conversation_id', '=', conversationId).where('user_id', '=', heir.user_id).execute();
          }
        }
        await trx.deleteFrom('members').where('conversation_id', '=', conversationId).where('user_id', '=', targetId).execute();
        await addRemoval(trx, conversationId, targetId, stamp);
        out.push(
          leaving
            ? await appendSystem(trx, conversationId, caller, 'member_left', newOwnerId ? { userId: targetId, newOwnerId } : { userId: targetId }, stamp)
            : await appendSystem(trx, conversationId, caller, 'member_removed', { userId: targetId }, stamp),
        );
        return out;
      });
      ctx.emit({ type: 'conversation.removed', conversationId, recipientIds: [targetId] });
      announce(conversationId, recipientsBefore.filter((u) => u !== targetId), envelopes);
    },

    /**
     * Roles: the owner makes and unmakes admins and may hand ownership over (role 'owner';
     * they become an admin). An admin may step down to member. Nobody else changes roles.
     */
    async setRole(caller: Caller, conversationId: string, targetId: string, role: Role): Promise<Conversation> {
      const m = await groupMember(caller, conversationId);
      const target = await findMembership(db, targetId, conversationId);
      if (!target) throw notFound('not a member');
      if (target.role === role) return viewOrThrow(caller.userId, conversationId);
      const stepDown = targetId === caller.userId && m.role === 'admin' && role === 'member';
      if (m.role !== 'owner' && !stepDown) throw new AppError('forbidden', 'only the owner changes roles');
      if (target.role === 'owner') throw new AppError('forbidden', 'hand ownership to someone else first');
      const envelope = await write(async (trx, stamp) => {
        const set = (userId: string, r: Role) =>
          trx.updateTable('members').set({ role: r, updated_at: stamp }).where('conversation_id', '=', conversationId).where('user_id', '=', userId).execute();
        if (role === 'owner') {
          await set(targetId, 'owner');
          await set(caller.userId, 'admin');
          return appendSystem(trx, conversationId, caller, 'owner_changed', { userId: targetId, previousOwnerId: caller.userId }, stamp);
        }
        await set(targetId, role);
        return appendSystem(trx, conversationId, caller, 'role_changed', { userId: targetId, role }, stamp);
      });
      announce(conversationId, await listeningMemberIds(db, conversationId), [envelope]);
      return viewOrThrow(caller.userId, conversationId);
    },

    /** Accept a message request (also one declined before). */
    async accept(caller: Caller, conversationId: string): Promise<Conversation> {
      await memberOf(caller, conversationId);
      await setState(caller.userId, conversationId, 'active');
      return viewOrThrow(caller.userId, conversationId);
    },

    /** Decline a message request: hidden from the caller, and the sender is told nothing. */
    async decline(caller: Caller, conversationId: string): Promise<Conversation> {
      const m = await memberOf(caller, conversationId);
      if (m.state === 'active') throw new AppError('conflict', 'there is no message request to decline');
      await setState(caller.userId, conversationId, 'declined');
      return viewOrThrow(caller.userId, conversationId);
    },

    /**
     * My settings for the conversation: mute (for good, or until a time), archive, pin (at
     * most LIMITS.pinnedConversationsMax). Archiving unpins; pinning unarchives. Only my
     * devices hear of it.
     */
    async setSettings(caller: Caller, conversationId: string, change: SettingsChange): Promise<Conversation> {
      await memberOf(caller, conversationId);
      await write(async (trx, stamp) => {
        const values: { muted?: number; muted_until?: string | null; archived?: number; pinned_at?: string | null; updated_at: string } = { updated_at: stamp };
        if (change.muted === false) Object.assign(values, { muted: 0, muted_until: null });
        else if (change.muted === true || change.mutedUntil !== undefined) {
          Object.assign(values, { muted: 1, muted_until: change.mutedUntil ? new Date(change.mutedUntil).toISOString() : null });
        }
        if (change.archived !== undefined) values.archived = fromBool(change.archived);
        if (change.archived === true) values.pinned_at = null;
        if (change.pinned === false) values.pinned_at = null;
        if (change.pinned === true) {
          values.archived = 0;
          const mine = await trx.selectFrom('members').select('pinned_at').where('conversation_id', '=', conversationId).where('user_id', '=', caller.userId).executeTakeFirstOrThrow();
          if (mine.pinned_at === null) {
            // Concurrent pins of one user take turns on the user's row, so the cap holds.
            await trx.updateTable('users').set((eb) => ({ id: eb.ref('id') })).where('id', '=', caller.userId).execute();
            const row = await trx
              .selectFrom('members')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('user_id', '=', caller.userId)
              .where('pinned_at', 'is not', null)
              .executeTakeFirstOrThrow();
            if (Number(row.n) >= LIMITS.pinnedConversationsMax) {
              throw new AppError('limit_reached', `at most ${LIMITS.pinnedConversationsMax} pinned conversations`, { data: { limit: LIMITS.pinnedConversationsMax, field: 'body.pinned' } });
            }
            values.pinned_at = stamp;
          }
        }
        await trx.updateTable('members').set(values).where('conversation_id', '=', conversationId).where('user_id', '=', caller.userId).execute();
      });
      ctx.emit({ type: 'conversation.changed', conversationId, recipientIds: [caller.userId] });
      return viewOrThrow(caller.userId, conversationId);
    },

    /** An invite link (admins). Only a hash of the token is stored; the token is shown this once. */
    async createInvite(caller: Caller, conversationId: string): Promise<{ token: string; id: string }> {
      const m = await groupMember(caller, conversationId);
      if (!isAdmin(m.role)) throw new AppError('forbidden', 'only admins create invite links');
      const token = randomToken();
      const id = uuidv7();
      await db.insertInto('invites').values({ id, token_hash: hashInvite(token), conversation_id: conversationId, created_by: caller.userId, created_at: new Date().toISOString(), revoked_at: null }).execute();
      return { token, id };
    },

    /** The group's links that still work (admins), newest first. */
    async listInvites(caller: Caller, conversationId: string): Promise<Invite[]> {
      const m = await groupMember(caller, conversationId);
      if (!isAdmin(m.role)) throw new AppError('forbidden', 'only admins see invite links');
      const rows = await db
        .selectFrom('invites as i')
        .innerJoin('members as creator', (j) => j.onRef('creator.conversation_id', '=', 'i.conversation_id').onRef('creator.user_id', '=', 'i.created_by'))
        .select(['i.id', 'i.conversation_id', 'i.created_by', 'i.created_at'])
        .where('i.conversation_id', '=', conversationId)
        .where('i.revoked_at', 'is', null)
        // A link dies with its creator's admin rights (see join).
        .where('creator.state', '=', 'active')
        .where('creator.role', 'in', ['owner', 'admin'])
        .orderBy('i.created_at', 'desc')
        .orderBy('i.id', 'desc')
        .execute();
      return rows.map((r) => ({ id: r.id, conversationId: r.conversation_id, createdBy: r.created_by, createdAt: r.created_at }));
    },

    /** Revoke a link (admins), named by its id or by the token itself; joining by it then answers 404. */
    async revokeInvite(caller: Caller, conversationId: string, idOrToken: string): Promise<void> {
      const m = await groupMember(caller, conversationId);
      if (!isAdmin(m.role)) throw new AppError('forbidden', 'only admins revoke invite links');
      const res = await db
        .updateTable('invites')
        .set({ revoked_at: new Date().toISOString() })
        .where('conversation_id', '=', conversationId)
        .where((eb) => eb.or([eb('id', '=', idOrToken), eb('token_hash', '=', hashInvite(idOrToken))]))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw notFound('no such invite');
    },

    /**
     * Join by an invite link. The link is good while its creator is still an admin of the
     * group and nobody revoked it. The joiner chose to join, so their own
     * `whoCanAddToGroups` is not asked; but someone who blocked, or is blocked by, the
     * link's creator, or whom any owner or admin of the group blocked, cannot use it (they get
     * the answer a block always gets, `messaging_not_allowed`, which names no one).
     */
    async join(caller: Caller, token: string): Promise<{ conversation: Conversation; joined: boolean }> {
      const invite = await db.selectFrom('invites').selectAll().where('token_hash', '=', hashInvite(token)).where('revoked_at', 'is', null).executeTakeFirst();
      if (!invite) throw notFound('no such invite');
      const inviter = await findMembership(db, invite.created_by, invite.conversation_id);
      if (!inviter || inviter.state !== 'active' || !isAdmin(inviter.role)) throw notFound('no such invite');
      const conversationId = invite.conversation_id;
      const me = await findMembership(db, caller.userId, conversationId);
      if (me) return { conversation: await viewOrThrow(caller.userId, conversationId), joined: false };
      if (await graph.blockedEitherWay(caller.userId, invite.created_by)) throw new AppError('messaging_not_allowed', 'you cannot join this group');
      const admins = await db.selectFrom('members').select('user_id').where('conversation_id', '=', invite.conversation_id).where('role', 'in', ['owner', 'admin']).where('state', '=', 'active').execute();
      const adminIds = admins.map((a) => a.user_id);
      // visibleAmong leaves out those who blocked the viewer.
      if ((await graph.visibleAmong(caller.userId, adminIds)).size < adminIds.length) throw new AppError('messaging_not_allowed', 'you cannot join this group');
      const envelope = await write(async (trx, stamp) => {
        if ((await memberCount(trx, conversationId)) >= config.groupMemberCap) throw new AppError('conflict', 'the group is full');
        const row = await appendSystem(trx, conversationId, caller, 'member_joined', { userId: caller.userId, invitedBy: invite.created_by }, stamp);
        await insertMembers(trx, conversationId, [caller.userId], row.seq, stamp);
        return row;
      });
      announce(conversationId, await listeningMemberIds(db, conversationId), [envelope]);
      return { conversation: await viewOrThrow(caller.userId, conversationId), joined: true };
    },

    /** What changed for the user since `cursor` (every conversation without one). */
    sync: (caller: Caller, cursor: string | undefined) => changesSince(db, clock, caller.userId, cursor),
  };
}

export type Conversations = ReturnType<typeof createConversations>;
