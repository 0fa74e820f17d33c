import { PIN_SYSTEM_EVENTS, PINS_PER_CONVERSATION, type Pin } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { AppContext, Caller } from '../../context.ts';
import { AppError, notFound } from '../../errors.ts';
import { uuidv7 } from '../../ids.ts';
import type { DB } from '../../storage/db.ts';
import { appendEnvelope, toEnvelope, type Conversations, type Membership, type MessageRow } from '../conversations/index.ts';

export interface PinsDeps {
  conversations: Pick<Conversations, 'membership' | 'memberIds' | 'write'>;
}

type PinEvent = (typeof PIN_SYSTEM_EVENTS)[keyof typeof PIN_SYSTEM_EVENTS];

/**
 * Pinned messages of a conversation: any member of a direct conversation, admins and the
 * owner of a group. Each pin and unpin is announced by a system envelope (SystemContent
 * with event `message_pinned` or `message_unpinned` and `{messageId}`), whose
 * `refs.target` is the pinned message: when that message disappears, so does the notice.
 */
export function createPins(ctx: AppContext, deps: PinsDeps) {
  const { db } = ctx;
  const { conversations } = deps;

  /** The caller's membership if they may read the conversation; 404 as for one that does not exist. */
  async function reader(caller: Caller, conversationId: string): Promise<Membership> {
    const m = await conversations.membership(caller.userId, conversationId);
    if (!m || m.state === 'declined') throw notFound('no such conversation');
    return m;
  }

  /** The caller's membership if they may pin in it. */
  async function pinner(caller: Caller, conversationId: string): Promise<Membership> {
    const m = await reader(caller, conversationId);
    if (m.state !== 'active') throw new AppError('forbidden', 'answer the message request first');
    if (m.type === 'group' && m.role !== 'owner' && m.role !== 'admin') throw new AppError('forbidden', 'only admins pin messages in a group');
    return m;
  }

  /** A message the member may see and pin: not unsent, not expired, not a reaction, edit or notice. */
  async function pinnable(m: Membership, messageId: string, now: string): Promise<MessageRow> {
    const row = await db.selectFrom('messages').selectAll().where('conversation_id', '=', m.conversationId).where('id', '=', messageId).executeTakeFirst();
    if (!row || row.seq < m.joinedSeq || row.kind !== 'message' || row.deleted_at !== null || (row.expires_at !== null && row.expires_at <= now)) {
      throw new AppError('not_found', 'body.messageId: no such message', { data: { field: 'body.messageId' } });
    }
    return row;
  }

  function notice(trx: Kysely<DB>, caller: Caller, conversationId: string, messageId: string, event: PinEvent, stamp: string): Promise<MessageRow> {
    return appendEnvelope(
      trx,
      {
        conversationId,
        senderId: caller.userId,
        senderDeviceId: caller.sessionId,
        clientId: `${event}-${uuidv7()}`,
        kind: 'system',
        refTarget: messageId,
        encoding: 'plain',
        data: JSON.stringify({ type: 'system', event, actorId: caller.userId, data: { messageId } }),
      },
      stamp,
    );
  }

  async function announce(conversationId: string, envelope: MessageRow): Promise<void> {
    const recipientIds = await conversations.memberIds(conversationId);
    ctx.metrics.messagesSent.add(1, 'system');
    ctx.emit({ type: 'message', conversationId, recipientIds, envelope: toEnvelope(envelope) });
    ctx.emit({ type: 'conversation.changed', conversationId, recipientIds });
  }

  return {
    /** Pin a message; pinning it again answers the existing pin (created: false) and announces nothing. */
    async pin(caller: Caller, conversationId: string, messageId: string): Promise<{ pin: Pin; created: boolean }> {
      const m = await pinner(caller, conversationId);
      const message = await pinnable(m, messageId, new Date().toISOString());
      const result = await conversations.write(async (trx, stamp) => {
        const existing = await trx.selectFrom('pinned_messages').selectAll().where('conversation_id', '=', conversationId).where('message_id', '=', messageId).executeTakeFirst();
        if (existing) return { pin: { messageId, seq: message.seq, pinnedBy: existing.pinned_by, pinnedAt: existing.pinned_at }, envelope: null };
        const { count } = await trx
          .selectFrom('pinned_messages')
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .where('conversation_id', '=', conversationId)
          .executeTakeFirstOrThrow();
        if (Number(count) >= PINS_PER_CONVERSATION) {
          throw new AppError('conflict', `at most ${PINS_PER_CONVERSATION} pinned messages; unpin one first`, { data: { reason: 'pin_limit', limit: PINS_PER_CONVERSATION } });
        }
        await trx.insertInto('pinned_messages').values({ conversation_id: conversationId, message_id: messageId, pinned_by: caller.userId, pinned_at: stamp }).execute();
        const envelope = await notice(trx, caller, conversationId, messageId, PIN_SYSTEM_EVENTS.pinned, stamp);
        return { pin: { messageId, seq: message.seq, pinnedBy: caller.userId, pinnedAt: stamp }, envelope };
      });
      if (result.envelope) await announce(conversationId, result.envelope);
      return { pin: result.pin, created: result.envelope !== null };
    },

    async unpin(caller: Caller, conversationId: string, messageId: string): Promise<void> {
      await pinner(caller, conversationId);
      const envelope = await conversations.write(async (trx, stamp) => {
        const res = await trx.deleteFrom('pinned_messages').where('conversation_id', '=', conversationId).where('message_id', '=', messageId).executeTakeFirst();
        if (res.numDeletedRows === 0n) return null;
        return notice(trx, caller, conversationId, messageId, PIN_SYSTEM_EVENTS.unpinned, stamp);
      });
      if (!envelope) throw notFound('that message is not pinned');
      await announce(conversationId, envelope);
    },

    /** The conversation's pins the caller may see, most recently pinned first (unsent or expired messages drop out). */
    async list(caller: Caller, conversationId: string): Promise<Pin[]> {
      const m = await reader(caller, conversationId);
      const now = new Date().toISOString();
      const rows = await db
        .selectFrom('pinned_messages as p')
        .innerJoin('messages as msg', (j) => j.onRef('msg.conversation_id', '=', 'p.conversation_id').onRef('msg.id', '=', 'p.message_id'))
        .select(['p.message_id', 'p.pinned_by', 'p.pinned_at', 'msg.seq'])
        .where('p.conversation_id', '=', conversationId)
        .where('msg.seq', '>=', m.joinedSeq)
        .where('msg.deleted_at', 'is', null)
        .where((eb) => eb.or([eb('msg.expires_at', 'is', null), eb('msg.expires_at', '>', now)]))
        .orderBy('p.pinned_at', 'desc')
        .orderBy('msg.seq', 'desc')
        .execute();
      return rows.map((r) => ({ messageId: r.message_id, seq: r.seq, pinnedBy: r.pinned_by, pinnedAt: r.pinned_at }));
    },
  };
}

export type Pins = ReturnType<typeof createPins>;
