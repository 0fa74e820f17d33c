import { sql, type Kysely } from 'kysely';
import type { Caller } from '../../context.ts';
import { notFound } from '../../errors.ts';
import { precompile, type DB, type Dialect } from '../../storage/db.ts';
import type { Conversations } from '../conversations/index.ts';

export interface HistoryQuery {
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
}

/**
 * One envelope as JSON text, written by the database from a page's row: the same object
 * `toEnvelope` (envelope-log.ts) makes of the row, key for key and in its order (history.test.ts
 * holds the two to each other for every kind of row), so a page never becomes row objects,
 * envelope objects and a serializer's output in turn. `expired` is the page's own column
 * (the row's expiry has passed). Every piece is non-null: `||` with NULL is NULL on both engines.
 */
function envelopeJson(dialect: Dialect): string {
  const q = (column: string) => (dialect === 'sqlite' ? `json_quote(${column})` : `to_json(${column})::text`);
  const optional = (key: string, column: string) => `case when ${column} is null then '' else ',"${key}":' || ${q(column)} end`;
  const gone = 'deleted_at is not null or expired';
  return [
    `'{"id":' || ${q('id')}`,
    `',"conversationId":' || ${q('conversation_id')}`,
    `',"seq":' || cast(seq as text)`,
    `',"senderId":' || ${q('sender_id')}`,
    `',"senderDeviceId":' || ${q('sender_device_id')}`,
    `',"clientId":' || ${q('client_id')}`,
    `',"kind":' || ${q('kind')}`,
    `',"refs":{' || case when ref_target is null then '' else '"target":' || ${q('ref_target')} end`,
    `case when ref_reply_to is null then '' when ref_target is null then '"replyTo":' || ${q('ref_reply_to')} else ',"replyTo":' || ${q('ref_reply_to')} end || '}'`,
    `',"content":' || case when ${gone} or encoding is null or data is null then 'null' else '{"encoding":' || ${q('encoding')} || ',"data":' || ${q('data')} || '}' end`,
    `',"attachmentIds":' || case when ${gone} then '[]' else attachment_ids end`,
    `',"createdAt":' || ${q('created_at')}`,
    optional('editedAt', 'edited_at'),
    optional('deletedAt', 'deleted_at'),
    optional('expiresAt', 'expires_at'),
    `'}'`,
  ].join(' || ');
}

/**
 * The page queries, built and compiled once per database: a page is the catch-up path's
 * unit (a device behind by thousands of messages asks for one page after another). Each
 * answers one row, the page's envelopes as the JSON text of an array's items in seq order
 * (null when the page is empty): the database writes the JSON (`envelopeJson`), which costs
 * a fraction of reading the rows into objects and serializing them again.
 *
 * The caller's `joined_seq` is read inside the page query, as an uncorrelated subquery
 * (evaluated once; the scan stays a range of the (conversation_id, seq) index): a
 * non-member's subquery is null, so its page is empty. An empty page is the only one that
 * needs the membership asked again, to tell "nothing there" from 404.
 *
 * `precompile` types its arguments as strings; the seq bounds and the limit are numbers,
 * bound as they are (it passes each argument through unchanged).
 */
const compile = (db: Kysely<DB>, dialect: Dialect) => {
  const json = sql.raw<string>(envelopeJson(dialect));
  const concat = sql.raw<string | null>(dialect === 'sqlite' ? 'group_concat(envelope, \',\' order by seq)' : 'string_agg(envelope, \',\' order by seq)');
  const rows = (conversationId: string, userId: string, now: string) =>
    db
      .selectFrom('messages')
      .selectAll()
      .select(sql<boolean>`expires_at is not null and expires_at <= ${now}`.as('expired'))
      .where('conversation_id', '=', conversationId)
      .where('seq', '>=', (eb) =>
        eb.selectFrom('members').select('joined_seq').where('conversation_id', '=', conversationId).where('user_id', '=', userId),
      );
  /** The rows as envelopes, then the envelopes as one text in seq order. */
  const page = (range: ReturnType<typeof rows>) =>
    db.selectFrom(db.selectFrom(range.as('r')).select(['seq', json.as('envelope')]).as('e')).select(concat.as('items'));
  const n = (mark: string) => mark as unknown as number;
  return {
    /** The first `limit` after `after`. */
    after: precompile(5, (conversationId: string, userId: string, now: string, after: string, limit: string) =>
      page(rows(conversationId, userId, now).where('seq', '>', n(after)).orderBy('seq', 'asc').limit(n(limit))),
    ),
    /** The last `limit` before `before`. */
    before: precompile(5, (conversationId: string, userId: string, now: string, before: string, limit: string) =>
      page(rows(conversationId, userId, now).where('seq', '<', n(before)).orderBy('seq', 'desc').limit(n(limit))),
    ),
    /** The latest `limit`. */
    latest: precompile(4, (conversationId: string, userId: string, now: string, limit: string) =>
      page(rows(conversationId, userId, now).orderBy('seq', 'desc').limit(n(limit))),
    ),
  };
};

/** Compiled once per database (the SQL differs by dialect). */
const compiled = new WeakMap<Kysely<DB>, ReturnType<typeof compile>>();

/**
 * A member's page of history as the JSON text of its envelopes' array items, in seq order,
 * never from before they joined: '' for an empty page, and for a non-member (tell the two
 * apart with the membership). `nowIso` decides which envelopes have expired.
 */
export async function historyItems(db: Kysely<DB>, dialect: Dialect, userId: string, conversationId: string, q: HistoryQuery, nowIso: string): Promise<string> {
  let queries = compiled.get(db);
  if (!queries) compiled.set(db, (queries = compile(db, dialect)));
  const s = (value: number) => value as unknown as string;
  let answer: { items: string | null }[];
  if (q.after !== undefined) answer = await queries.after(db, conversationId, userId, nowIso, s(q.after), s(q.limit));
  else if (q.before !== undefined) answer = await queries.before(db, conversationId, userId, nowIso, s(q.before), s(q.limit));
  else answer = await queries.latest(db, conversationId, userId, nowIso, s(q.limit));
  return answer[0]?.items ?? '';
}

/** The read side of the message log: a member's pages of history. */
export function createHistory(db: Kysely<DB>, dialect: Dialect, conversations: Conversations) {
  /** The JSON text of `{"messages": [envelopes in seq order]}` (the body of GET …/messages). */
  return async function history(caller: Caller, conversationId: string, q: HistoryQuery): Promise<string> {
    const items = await historyItems(db, dialect, caller.userId, conversationId, q, new Date().toISOString());
    if (items === '' && !(await conversations.membership(caller.userId, conversationId))) throw notFound('no such conversation');
    return `{"messages":[${items}]}`;
  };
}
