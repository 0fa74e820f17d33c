import type { Envelope } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { Caller } from '../../context.ts';
import { notFound } from '../../errors.ts';
import { precompile, type DB } from '../../storage/db.ts';
import { toEnvelope, type Conversations, type MessageRow } from '../conversations/index.ts';

export interface HistoryQuery {
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
}

/**
 * The page queries, built and compiled once per database: a page is the catch-up path's
 * unit (a device behind by thousands of messages asks for one page after another), and
 * building the query through Kysely, plus a membership lookup of its own, cost more per
 * page than the statements. The caller's `joined_seq` is read inside the page query, as an
 * uncorrelated subquery (evaluated once; the scan stays a range of the (conversation_id,
 * seq) index): a non-member's subquery is null, so its page is empty. An empty page is the
 * only one that needs the membership asked again, to tell "nothing there" from 404.
 *
 * `precompile` types its arguments as strings; the seq bounds and the limit are numbers,
 * bound as they are (it passes each argument through unchanged).
 */
const compile = (db: Kysely<DB>) => {
  const page = (conversationId: string, userId: string) =>
    db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('seq', '>=', (eb) =>
        eb.selectFrom('members').select('joined_seq').where('conversation_id', '=', conversationId).where('user_id', '=', userId),
      );
  const n = (mark: string) => mark as unknown as number;
  return {
    /** The first `limit` after `after`, ascending. */
    after: precompile(4, (conversationId: string, userId: string, after: string, limit: string) =>
      page(conversationId, userId).where('seq', '>', n(after)).orderBy('seq', 'asc').limit(n(limit)),
    ),
    /** The last `limit` before `before`, descending. */
    before: precompile(4, (conversationId: string, userId: string, before: string, limit: string) =>
      page(conversationId, userId).where('seq', '<', n(before)).orderBy('seq', 'desc').limit(n(limit)),
    ),
    /** The latest `limit`, descending. */
    latest: precompile(3, (conversationId: string, userId: string, limit: string) => page(conversationId, userId).orderBy('seq', 'desc').limit(n(limit))),
  };
};

/** The read side of the message log: a member's pages of history. */
export function createHistory(db: Kysely<DB>, conversations: Conversations) {
  let queries: ReturnType<typeof compile> | undefined;
  const s = (value: number) => value as unknown as string;
  /** Envelopes in seq order, never from before the member joined. */
  return async function history(caller: Caller, conversationId: string, q: HistoryQuery): Promise<Envelope[]> {
    queries ??= compile(db);
    let rows: MessageRow[];
    if (q.after !== undefined) rows = await queries.after(db, conversationId, caller.userId, s(q.after), s(q.limit));
    else if (q.before !== undefined) rows = (await queries.before(db, conversationId, caller.userId, s(q.before), s(q.limit))).reverse();
    else rows = (await queries.latest(db, conversationId, caller.userId, s(q.limit))).reverse();
    if (rows.length === 0 && !(await conversations.membership(caller.userId, conversationId))) throw notFound('no such conversation');
    const now = new Date().toISOString();
    const out = new Array<Envelope>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = toEnvelope(rows[i]!, now);
    return out;
  };
}
