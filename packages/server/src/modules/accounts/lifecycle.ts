import type { AccountExport } from '@parley/protocol';
import type { AppContext, Caller } from '../../context.ts';
import type { DomainEvent } from '../../bus/events.ts';
import { AppError } from '../../errors.ts';
import { nowIso } from '../../ids.ts';
import { toBool } from '../../storage/db.ts';
import { toEnvelope } from '../conversations/index.ts';
import type { Accounts } from './actions.ts';
import { findUserById } from './queries.ts';

/** What deleting an account needs from the conversations module: leaving a group properly (owner hand-off, a system envelope). */
export interface GroupLeaver {
  removeMember(caller: Caller, conversationId: string, targetId: string): Promise<void>;
}

/** What deleting an account needs from the attachments module. */
export interface UploadRemover {
  /** Delete the user's uploads that no envelope or avatar uses (blobs after the commit). */
  deleteUnusedOf(ownerId: string): Promise<number>;
}

/**
 * Export and deletion of one's own account.
 *
 * Deletion, as decided for Parley:
 * - profile, password, settings, sessions (their sockets close), connections, blocks (both
 *   ways), counters are erased; the users row stays as a tombstone (`deleted_at`, no name,
 *   settings that refuse all contact) so history can still say "Deleted account";
 * - the username is freed at once for someone else to take;
 * - groups are left the ordinary way (ownership passes on, the others see a system envelope);
 * - direct conversations stay with the other person, who sees a deleted account they can
 *   no longer message; envelopes already delivered stay where they are, as in every
 *   messaging system (they are the recipients' copies);
 * - reports the user filed or that name them are kept for moderation;
 * - uploads no envelope lists (never sent, or their messages were unsent) are deleted with
 *   their bytes; files of messages that others received stay with those messages, and a
 *   group's avatar stays while the group shows it.
 */
export function createAccountLifecycle(ctx: AppContext, deps: { accounts: Accounts; groups: GroupLeaver; uploads?: UploadRemover }) {
  const { db } = ctx;

  return {
    /** Everything the server holds about the caller, for data portability (GDPR art. 20) and access (art. 15). */
    async export(caller: Caller): Promise<AccountExport> {
      const me = caller.userId;
      const user = await findUserById(db, me);
      if (!user || user.deleted_at) throw new AppError('not_found', 'no such user');
      const [sessions, connections, blocks, memberships, removals, reports, attachments] = await Promise.all([
        db.selectFrom('sessions').select(['id', 'device_name', 'created_at', 'last_active_at']).where('user_id', '=', me).orderBy('created_at').execute(),
        db.selectFrom('connections').select(['peer_id', 'state', 'since']).where('user_id', '=', me).orderBy('since').execute(),
        db.selectFrom('blocks').select(['blocked_id', 'created_at']).where('blocker_id', '=', me).orderBy('created_at').execute(),
        db
          .selectFrom('members as m')
          .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
          .select(['c.id', 'c.type', 'c.title', 'c.created_at', 'm.role', 'm.state', 'm.joined_at', 'm.read_seq', 'm.delivered_seq', 'm.muted', 'm.muted_until', 'm.archived', 'm.pinned_at'])
          .where('m.user_id', '=', me)
          .orderBy('c.created_at')
          .execute(),
        db.selectFrom('removals').select(['conversation_id', 'removed_at']).where('user_id', '=', me).execute(),
        db.selectFrom('reports').selectAll().where('reporter_id', '=', me).orderBy('created_at').execute(),
        db.selectFrom('attachments').select(['id', 'size', 'content_type', 'created_at']).where('owner_id', '=', me).orderBy('created_at').execute(),
      ]);
      const conversationIds = memberships.map((m) => m.id);
      const members = conversationIds.length
        ? await db.selectFrom('members').select(['conversation_id', 'user_id', 'role', 'state']).where('conversation_id', 'in', conversationIds).execute()
        : [];

      // Messages are only ever read per conversation (the shard key), including those the user has left.
      const envelopes = [];
      const now = nowIso();
      for (const conversationId of [...conversationIds, ...removals.map((r) => r.conversation_id)]) {
        const rows = await db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).where('sender_id', '=', me).orderBy('seq').execute();
        envelopes.push(...rows.map((r) => toEnvelope(r, now)));
      }

      return {
        exportedAt: now,
        profile: { id: user.id, username: user.username, displayName: user.display_name, bio: user.bio, createdAt: user.created_at, lastSeenAt: user.last_seen_at },
        settings: {
          whoCanMessage: user.who_can_message as AccountExport['settings']['whoCanMessage'],
          whoCanAddToGroups: user.who_can_add_to_groups as AccountExport['settings']['whoCanAddToGroups'],
          readReceipts: toBool(user.read_receipts),
          presence: user.presence as AccountExport['settings']['presence'],
        },
        sessions: sessions.map((s) => ({ id: s.id, deviceName: s.device_name, createdAt: s.created_at, lastActiveAt: s.last_active_at, current: s.id === caller.sessionId })),
        connections: connections.map((c) => ({ userId: c.peer_id, state: c.state, since: c.since })),
        blocks: blocks.map((b) => ({ userId: b.blocked_id, createdAt: b.created_at })),
        conversations: memberships.map((m) => ({
          id: m.id,
          type: m.type,
          title: m.title,
          createdAt: m.created_at,
          role: m.role,
          state: m.state,
          joinedAt: m.joined_at,
          readSeq: m.read_seq,
          deliveredSeq: m.delivered_seq,
          muted: toBool(m.muted),
          mutedUntil: m.muted_until,
          archived: toBool(m.archived),
          pinnedAt: m.pinned_at,
          members: members.filter((x) => x.conversation_id === m.id).map((x) => ({ userId: x.user_id, role: x.role, state: x.state })),
        })),
        leftConversations: removals.map((r) => ({ id: r.conversation_id, removedAt: r.removed_at })),
        envelopes,
        reports: reports.map((r) => ({
          id: r.id,
          conversationId: r.conversation_id,
          messageIds: JSON.parse(r.message_ids) as string[],
          reason: r.reason,
          evidence: JSON.parse(r.evidence) as { messageId: string; senderId: string; content: string }[],
          status: r.status,
          resolution: r.resolution,
          createdAt: r.created_at,
          resolvedAt: r.resolved_at,
        })),
        attachments: attachments.map((a) => ({ id: a.id, size: Number(a.size), contentType: a.content_type, createdAt: a.created_at })),
      };
    },

    /** Delete the caller's account; see above for what is erased and what is kept. */
    async delete(caller: Caller, password: string): Promise<void> {
      const me = caller.userId;
      if (!(await deps.accounts.checkPassword(me, password))) {
        throw new AppError('forbidden', 'the password is wrong', { data: { field: 'password' } });
      }

      // Leave groups first, each the ordinary way: if this stops half-way the account still exists and may try again.
      const groups = await db
        .selectFrom('members as m')
        .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
        .select('c.id')
        .where('m.user_id', '=', me)
        .where('m.state', '=', 'active')
        .where('c.type', '=', 'group')
        .execute();
      for (const g of groups) {
        await deps.groups.removeMember(caller, g.id, me).catch((err: unknown) => {
          // Someone else removed us in the meantime: nothing left to leave.
          if (!(err instanceof AppError && err.code === 'not_found')) throw err;
        });
      }

      const now = nowIso();
      const { sessionIds, events } = await ctx.database.write(async (tx) => {
        const peers = await tx.selectFrom('connections').select('peer_id').where('user_id', '=', me).execute();
        const directs = await tx
          .selectFrom('members as mine')
          .innerJoin('conversations as c', 'c.id', 'mine.conversation_id')
          .innerJoin('members as theirs', 'theirs.conversation_id', 'mine.conversation_id')
          .select(['c.id', 'theirs.user_id'])
          .where('mine.user_id', '=', me)
          .where('c.type', '=', 'direct')
          .where('theirs.user_id', '!=', me)
          .execute();

        // Exactly the sessions deleted (one signed in meanwhile included) are announced as revoked.
        const sessions = await tx.deleteFrom('sessions').where('user_id', '=', me).returning('id').execute();
        await tx.deleteFrom('connections').where((eb) => eb.or([eb('user_id', '=', me), eb('peer_id', '=', me)])).execute();
        await tx.deleteFrom('blocks').where((eb) => eb.or([eb('blocker_id', '=', me), eb('blocked_id', '=', me)])).execute();
        await tx.deleteFrom('daily_counters').where('user_id', '=', me).execute();
        await tx.deleteFrom('removals').where('user_id', '=', me).execute();
        // Any group place not left above (one never accepted) goes too; direct conversations keep the tombstone.
        const groupIds = tx.selectFrom('conversations').select('id').where('type', '=', 'group');
        await tx.deleteFrom('members').where('user_id', '=', me).where('conversation_id', 'in', groupIds).execute();
        await tx
          .updateTable('users')
          .set({
            // Not a valid username (it has a ':'), so nobody can sign up or in as it; the old name is free.
            username: `deleted:${me}`,
            display_name: '',
            bio: '',
            password_hash: null,
            external_id: null,
            who_can_message: 'nobody',
            who_can_add_to_groups: 'nobody',
            read_receipts: 0,
            presence: 'nobody',
            last_seen_at: null,
            deleted_at: now,
          })
          .where('id', '=', me)
          .execute();
        // Conversations name members by id only, so they do not change; the profile behind the id does.
        const out: DomainEvent[] = [];
        const audience = [...new Set([...peers.map((p) => p.peer_id), ...directs.map((d) => d.user_id)])];
        if (audience.length) out.push({ type: 'user.changed', userId: me, recipientIds: audience });
        return { sessionIds: sessions.map((s) => s.id), events: out };
      });
      // After the account is gone (nothing new can be uploaded or listed), so no upload slips through.
      const uploads = (await deps.uploads?.deleteUnusedOf(me)) ?? 0;
      await deps.accounts.sessionsRevoked(me, sessionIds);
      for (const e of events) ctx.emit(e);
      ctx.log.info({ userId: me, uploads }, 'account deleted');
    },
  };
}

export type AccountLifecycle = ReturnType<typeof createAccountLifecycle>;
