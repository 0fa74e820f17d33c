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
 * `toEnvelope` (envelope-log.ts) makes of the row, key for key and in its order (history-json.test.ts
 * holds the two to each other for every kind of row), so a page never becomes row objects,
 * envelope objects and a serializer's output in turn. `expired` is the page's own column
 * (the row's expiry has passed). Every piece is non-null: `||` with NULL is NULL on both engines.
 *
 * SQLite writes the envelope with one `format()`: the values Parley itself makes (the
 * message's and its conversation's ids, uuidv7; the seq; the timestamps; the kind and the
 * encoding, checked against their lists on the way in; the attachment ids, a JSON array
 * Parley wrote) go in as they are, and every string a client chose, and the user and device
 * ids, through `json_quote`. One format() measured 12–19% less per row than a `json_object`
 * for the keys every envelope has, its text opened again for the others (the sixth pass in
 * docs/PERFORMANCE.md); a chain of `||` copies the growing text once per piece.
 * PostgreSQL concatenates `to_json` pieces.
 */
function envelopeJson(dialect: Dialect): string {
  const gone = 'deleted_at is not null or expired';
  if (dialect === 'sqlite') {
    const refs = `case when ref_target is null then (case when ref_reply_to is null then '{}' else '{"replyTo":' || json_quote(ref_reply_to) || '}' end)
      when ref_reply_to is null then '{"target":' || json_quote(ref_target) || '}' else '{"target":' || json_quote(ref_target) || ',"replyTo":' || json_quote(ref_reply_to) || '}' end`;
    const content = `case when ${gone} or encoding is null or data is null then 'null' else '{"encoding":"' || encoding || '","data":' || json_quote(data) || '}' end`;
    const stamp = (key: string, column: string) => `case when ${column} is null then '' else ',"${key}":"' || ${column} || '"' end`;
    return `format('{"id":"%s","conversationId":"%s","seq":%d,"senderId":%s,"senderDeviceId":%s,"clientId":%s,"kind":"%s","refs":%s,"content":%s,"attachmentIds":%s,"createdAt":"%s"%s%s%s}',
      id, conversation_id, seq, json_quote(sender_id), json_quote(sender_device_id), json_quote(client_id), kind, ${refs}, ${content},
      case when ${gone} then '[]' else attachment_ids end, created_at, ${stamp('editedAt', 'edited_at')}, ${stamp('deletedAt', 'deleted_at')}, ${stamp('expiresAt', 'expires_at')})`;
  }
  const q = (column: string) => `to_json(${column})::text`;
  const optional = (key: string, column: string) => `case when ${column} is null then '' else ',"${key}":' || ${q(column)} end`;
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
  // The envelopes in seq order. A page read forward already comes in that order from the
  // (conversation_id, seq) index, and SQLite aggregates a subquery's rows in the order it
  // yields them: sorting them again (a temporary b-tree of every envelope's text) was a
  // fifth of the page's cost. history-json.test.ts holds each form's order.
  // Text, not a blob: a blob reaches JavaScript as a Buffer in memory of its own, freshly
  // taken from the system until the collector frees the last ones (page faults, ~40% of a
  // page's cost here); a string lives in the young generation, whose memory is used again.
  // The route writes the text into a reused slab (body-pool.ts).
  const concat = (ordered: boolean) =>
    sql.raw<string | null>(dialect === 'sqlite' ? `group_concat(envelope, ','${ordered ? ' order by seq' : ''})` : "string_agg(envelope, ',' order by seq)");
  const rows = (conversationId: string, userId: string, now: string) =>
    db
      .selectFrom('messages')
      .selectAll()
      .select(sql<boolean>`expires_at is not null and expires_at <= ${now}`.as('expired'))
      .where('conversation_id', '=', conversationId)
      .where('seq', '>=', (eb) =>
        eb.selectFrom('members').select('joined_seq').where('conversation_id', '=', conversationId).where('user_id', '=', userId),
      );
  /**
   * The rows as envelopes, then the envelopes as one text in seq order. SQLite also says how
   * many bytes that text is (its UTF-8, as stored: `octet_length` reads it off the value),
   * which JavaScript could only count by reading every character again (~0.5 ns each, twice
   * a page: the batch's budget and the body's size).
   */
  const page = (range: ReturnType<typeof rows>, inSeqOrder = false) => {
    const items = db.selectFrom(db.selectFrom(range.as('r')).select(['seq', json.as('envelope')]).as('e')).select(concat(!inSeqOrder).as('items'));
    return dialect === 'sqlite'
      ? db.selectFrom(items.as('p')).select(['items', sql<number | null>`octet_length(items)`.as('bytes')])
      : db.selectFrom(items.as('p')).select(['items', sql<null>`null`.as('bytes')]);
  };
  const n = (mark: string) => mark as unknown as number;
  return {
    /** The first `limit` after `after`. */
    after: precompile(5, (conversationId: string, userId: string, now: string, after: string, limit: string) =>
      page(rows(conversationId, userId, now).where('seq', '>', n(after)).orderBy('seq', 'asc').limit(n(limit)), true),
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

/** JSON text and the number of bytes of its UTF-8. */
export interface SizedText {
  text: string;
  bytes: number;
}

/**
 * A member's page of history as the JSON text of its envelopes' array items, in seq order,
 * never from before they joined: empty for an empty page, and for a non-member (tell the
 * two apart with the membership). `nowIso` decides which envelopes have expired.
 */
export async function historyItems(db: Kysely<DB>, dialect: Dialect, userId: string, conversationId: string, q: HistoryQuery, nowIso: string): Promise<SizedText> {
  let queries = compiled.get(db);
  if (!queries) compiled.set(db, (queries = compile(db, dialect)));
  const s = (value: number) => value as unknown as string;
  let answer: { items: string | null; bytes: number | null }[];
  if (q.after !== undefined) answer = await queries.after(db, conversationId, userId, nowIso, s(q.after), s(q.limit));
  else if (q.before !== undefined) answer = await queries.before(db, conversationId, userId, nowIso, s(q.before), s(q.limit));
  else answer = await queries.latest(db, conversationId, userId, nowIso, s(q.limit));
  const text = answer[0]?.items ?? '';
  return { text, bytes: answer[0]?.bytes ?? Buffer.byteLength(text) };
}

/** A body in pieces, to be written one after the other, and the UTF-8 length of them all. */
export interface JsonPieces {
  pieces: string[];
  bytes: number;
}

const PAGE_HEAD = '{"messages":[';
const PAGE_TAIL = ']}';
const BATCH_HEAD = '{"pages":[';
const BATCH_TAIL = ']}';

/**
 * The most a batch of pages (POST /v1/sync/messages) builds before it stops adding
 * conversations: one page of 200 envelopes of 64 KiB payloads is ~17 MiB already, and a
 * hundred of them would be a request that costs the server gigabytes. The client asks again
 * for the conversations left out.
 */
export const HISTORY_BATCH_BYTES = 8 * 1024 * 1024;

export interface HistoryBatchRequest {
  conversations: { conversationId: string; after?: number | undefined; before?: number | undefined }[];
  limit: number;
}

/** The read side of the message log: a member's pages of history, one at a time or many conversations at once. */
export function createHistory(db: Kysely<DB>, dialect: Dialect, conversations: Conversations) {
  /** A page's items, or null when the caller may not read the conversation (an empty page asks which). */
  const itemsOf = async (userId: string, conversationId: string, q: HistoryQuery, nowIso: string): Promise<SizedText | null> => {
    const items = await historyItems(db, dialect, userId, conversationId, q, nowIso);
    if (items.text.length === 0 && !(await conversations.membership(userId, conversationId))) return null;
    return items;
  };
  return {
    /**
     * The JSON of `{"messages": [envelopes in seq order]}` (the body of GET …/messages), in
     * pieces to be written one after the other (body-pool.ts `sendJsonPieces`), and their
     * UTF-8 length.
     */
    async history(caller: Caller, conversationId: string, q: HistoryQuery): Promise<JsonPieces> {
      const items = await itemsOf(caller.userId, conversationId, q, new Date().toISOString());
      if (items === null) throw notFound('no such conversation');
      return { pieces: [PAGE_HEAD, items.text, PAGE_TAIL], bytes: PAGE_HEAD.length + items.bytes + PAGE_TAIL.length };
    },

    /**
     * The JSON of `{"pages": [{conversationId, messages} | {conversationId, error}]}` (the body
     * of POST /v1/sync/messages), in pieces to be written one after the other (joined into
     * one string, a body of megabytes would be copied once more): each conversation's page exactly as
     * GET …/messages answers it, in the order asked, with a not_found error in place of a
     * conversation the caller may not read. Each page is read by one statement, so it is
     * consistent in itself; the pages are not one snapshot (a message may commit between
     * two of them), which catch-up does not need: it pages by seq, and news arrives on the
     * socket. Stops adding pages once the body reaches HISTORY_BATCH_BYTES.
     * Conversation ids are safe to write into JSON as they are (`Id` allows [A-Za-z0-9_-]).
     */
    async historyBatch(caller: Caller, request: HistoryBatchRequest): Promise<JsonPieces> {
      const nowIso = new Date().toISOString();
      const pieces: string[] = [BATCH_HEAD];
      // Every piece but the pages' items is ASCII (conversation ids included): a byte a character.
      let bytes = BATCH_HEAD.length;
      let pagesBytes = 0;
      const ascii = (piece: string) => {
        pieces.push(piece);
        bytes += piece.length;
      };
      for (const [i, c] of request.conversations.entries()) {
        if (pagesBytes >= HISTORY_BATCH_BYTES) break;
        const items = await itemsOf(caller.userId, c.conversationId, { after: c.after, before: c.before, limit: request.limit }, nowIso);
        const head = `${i === 0 ? '' : ','}{"conversationId":"${c.conversationId}"`;
        if (items === null) {
          ascii(`${head},"error":{"code":"not_found","message":"no such conversation"}}`);
          continue;
        }
        ascii(`${head},"messages":[`);
        pieces.push(items.text);
        bytes += items.bytes;
        pagesBytes += items.bytes;
        ascii(PAGE_TAIL);
      }
      ascii(BATCH_TAIL);
      return { pieces, bytes };
    },
  };
}
