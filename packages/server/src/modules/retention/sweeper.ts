import type { AppContext } from '../../context.ts';
import { nowIso } from '../../ids.ts';
import type { Attachments } from '../attachments/index.ts';

export interface RetentionDeps {
  attachments: Attachments;
  /** Who hears of a change to a conversation (its members who still listen). */
  audience(conversationId: string): Promise<string[]>;
}

/** Expired envelopes read per query of the expiry index. */
const BATCH = 500;

/**
 * Disappearing messages, server side: envelopes whose `expires_at` has passed are erased,
 * rows and all, with what hangs off them (edits, reactions and deletes aimed at them, pins,
 * attachment references) and their attachments once nothing else lists them.
 *
 * Rows are deleted rather than tombstoned: the issue asks for them to be gone from the
 * database, and a tombstone would keep who wrote when. Seqs stay unique and increasing
 * (the counter is the conversation's `last_seq`, never `max(seq)`), so a history page is
 * still authoritative for the range it covers: a client that sees seq 7 then 10 and asks
 * for `after=7` gets 10 and knows 8 and 9 are gone, not missing. Clients drop expired
 * envelopes on their own clock too (every envelope carries `expiresAt`); the sweeper's
 * `conversation.changed` tells connected ones to refresh.
 *
 * Work is keyed by conversation: the only query across conversations walks the partial
 * `expires_at` index, every other statement names one conversation.
 */
export function createRetention(ctx: AppContext, deps: RetentionDeps) {
  const { db } = ctx;
  const { attachments } = deps;

  /** Erase those of `ids` (all in one conversation) that are expired at `at`; returns how many envelopes went. */
  async function eraseIn(conversationId: string, ids: string[], at: string): Promise<number> {
    const { erased, blobIds } = await ctx.database.write(async (trx) => {
      // Another process may have swept them meanwhile.
      const due = await trx
        .selectFrom('messages')
        .select('id')
        .where('conversation_id', '=', conversationId)
        .where('id', 'in', ids)
        .where('expires_at', '<=', at)
        .execute();
      if (due.length === 0) return { erased: 0, blobIds: [] as string[] };
      const dueIds = due.map((r) => r.id);
      // An edit carries the new text: leaving it would keep what was meant to disappear.
      const dependents = await trx
        .selectFrom('messages')
        .select('id')
        .where('conversation_id', '=', conversationId)
        .where('ref_target', 'in', dueIds)
        .execute();
      const all = [...new Set([...dueIds, ...dependents.map((r) => r.id)])];
      const refs = await trx
        .selectFrom('attachment_refs')
        .select('attachment_id')
        .where('conversation_id', '=', conversationId)
        .where('message_id', 'in', all)
        .execute();
      await trx.deleteFrom('attachment_refs').where('conversation_id', '=', conversationId).where('message_id', 'in', all).execute();
      await trx.deleteFrom('pinned_messages').where('conversation_id', '=', conversationId).where('message_id', 'in', all).execute();
      await trx.deleteFrom('messages').where('conversation_id', '=', conversationId).where('id', 'in', all).execute();
      const blobIds = await attachments.deleteUnused(
        trx,
        refs.map((r) => r.attachment_id),
      );
      return { erased: all.length, blobIds };
    });
    await attachments.discardBlobs(blobIds);
    if (erased > 0) ctx.emit({ type: 'conversation.changed', conversationId, recipientIds: await deps.audience(conversationId) });
    return erased;
  }

  return {
    /** Erase everything expired by `now`; returns how many envelopes went. */
    async sweepOnce(now = Date.now()): Promise<number> {
      const at = nowIso(now);
      let total = 0;
      for (;;) {
        const due = await db
          .selectFrom('messages')
          .select(['conversation_id', 'id'])
          .where('expires_at', 'is not', null)
          .where('expires_at', '<=', at)
          .orderBy('expires_at')
          .limit(BATCH)
          .execute();
        if (due.length === 0) break;
        const byConversation = new Map<string, string[]>();
        for (const row of due) {
          const list = byConversation.get(row.conversation_id);
          if (list) list.push(row.id);
          else byConversation.set(row.conversation_id, [row.id]);
        }
        let erased = 0;
        for (const [conversationId, ids] of byConversation) erased += await eraseIn(conversationId, ids, at);
        total += erased;
        // Nothing went although some were due: they are being erased elsewhere; next round.
        if (due.length < BATCH || erased === 0) break;
      }
      if (total > 0) ctx.log.debug({ erased: total }, 'erased expired envelopes');
      return total;
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;
