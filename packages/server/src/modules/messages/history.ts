import type { Envelope } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { Caller } from '../../context.ts';
import { notFound } from '../../errors.ts';
import type { DB } from '../../storage/db.ts';
import { toEnvelope, type Conversations, type MessageRow } from '../conversations/index.ts';

export interface HistoryQuery {
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
}

/** The read side of the message log: a member's pages of history. */
export function createHistory(db: Kysely<DB>, conversations: Conversations) {
  /** Envelopes in seq order, never from before the member joined. */
  return async function history(caller: Caller, conversationId: string, q: HistoryQuery): Promise<Envelope[]> {
    const m = await conversations.membership(caller.userId, conversationId);
    if (!m) throw notFound('no such conversation');
    let query = db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).where('seq', '>=', m.joinedSeq);
    let rows: MessageRow[];
    if (q.after !== undefined) {
      rows = await query.where('seq', '>', q.after).orderBy('seq', 'asc').limit(q.limit).execute();
    } else {
      if (q.before !== undefined) query = query.where('seq', '<', q.before);
      rows = (await query.orderBy('seq', 'desc').limit(q.limit).execute()).reverse();
    }
    const now = new Date().toISOString();
    return rows.map((r) => toEnvelope(r, now));
  };
}
