/**
 * A history page's JSON is written by the database (history.ts `envelopeJson`), not by
 * `toEnvelope` and the serializer as every other envelope is: the two must give the same
 * envelope, key for key and in the same order, for every kind of row — unsent, expired (and
 * expiring exactly now), edited, replies, reactions, attachments, system envelopes, and
 * strings JSON must escape — on both engines, whichever way the page is asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../../../test/harness.ts';
import { type MessageRow } from '../../storage/db.ts';
import { toEnvelope } from '../conversations/index.ts';
import { historyItems } from './history.ts';

const T0 = '2026-12-01T20:00:00.000Z';
const NOW = '2026-12-01T22:00:00.000Z';
const LATER = '2026-12-01T23:00:00.000Z';
const A1 = '0192f0a0-0000-7000-8000-00000000a001';
const A2 = '0192f0a0-0000-7000-8000-00000000a002';
/** Every character class JSON escapes or passes through: quotes, backslash, controls, line separators, astral. */
const NASTY = 'q"uote\\ back/slash\nnew\ttab\r\u0001\u001f\u007f\u2028\u2029 é 😀 </script> \'single\'';

const msg = (seq: number, extra: Partial<MessageRow> = {}): MessageRow => ({
  id: `m-${seq}`, conversation_id: 'c', seq, sender_id: 'a', sender_device_id: 'dev-a', client_id: `cl-${seq}`, kind: 'message', ref_target: null,
  ref_reply_to: null, encoding: 'plain', data: `{"type":"text","text":"${seq}"}`, attachment_ids: '[]', created_at: T0, edited_at: null, deleted_at: null,
  expires_at: null, ...extra,
});

const ROWS: MessageRow[] = [
  msg(1),
  msg(2, { ref_reply_to: 'm-1' }), // a reply
  msg(3, { kind: 'reaction', ref_target: 'm-1', data: '{"type":"reaction","emoji":"👍"}' }),
  msg(4, { kind: 'edit', ref_target: 'm-5', ref_reply_to: 'm-2' }), // both refs
  msg(5, { edited_at: NOW }), // edited
  msg(6, { encoding: null, data: null, attachment_ids: '[]', deleted_at: NOW }), // unsent
  msg(7, { deleted_at: NOW, attachment_ids: JSON.stringify([A1]) }), // unsent, payload not yet erased: still nothing shows
  msg(8, { expires_at: T0, attachment_ids: JSON.stringify([A1, A2]) }), // expired
  msg(9, { expires_at: NOW }), // expires exactly now: expired
  msg(10, { expires_at: LATER, attachment_ids: JSON.stringify([A2]) }), // not yet
  msg(11, { attachment_ids: JSON.stringify([A1, A2]) }),
  msg(12, { kind: 'system', sender_device_id: 'system', encoding: null, data: null }),
  msg(13, { encoding: 'mls', data: 'AAECAwQFBgc+/w==' }),
  msg(14, { data: NASTY, client_id: NASTY }),
  msg(15, { encoding: 'plain', data: '' }), // empty payload is still a payload
  msg(16, { edited_at: NOW, expires_at: LATER, ref_reply_to: 'm-14', attachment_ids: JSON.stringify([A1]) }),
];

/** Seqs 1–40 in the order conversation d stores them: neither ascending nor descending. */
const SCRAMBLED = Array.from({ length: 40 }, (_, i) => ((i * 17) % 40) + 1);

for (const dialect of DIALECTS) {
  describe(`history page JSON [${dialect}]`, () => {
    let database: FreshDatabase;
    beforeAll(async () => {
      database = await freshDatabase(dialect, 'normal');
      const { db } = database;
      await db.insertInto('users').values(['a', 'b', 'late', 'z'].map((id) => ({ id, username: id, display_name: id, created_at: T0 })) as never).execute();
      await db
        .insertInto('conversations')
        .values({ id: 'c', type: 'group', direct_key: null, title: 't', last_seq: ROWS.length, disappearing_seconds: 0, created_by: 'a', created_at: T0, updated_at: T0, description: '', info_policy: 'admins' } as never)
        .execute();
      const member = (user_id: string, joined_seq: number) => ({
        conversation_id: 'c', user_id, role: 'member', state: 'active', joined_at: T0, joined_seq, read_seq: 0, delivered_seq: 0, request_sent: 0, muted: 0, muted_until: null, archived: 0, pinned_at: null, updated_at: T0,
      });
      await db.insertInto('members').values([member('a', 0), member('b', 0), member('late', 10)] as never).execute();
      await db.insertInto('messages').values(ROWS).execute();
      // Conversation d: its rows stored in an order unlike their seqs (as sends of many
      // conversations interleave), so a page cannot come out in seq order by accident.
      await db
        .insertInto('conversations')
        .values({ id: 'd', type: 'group', direct_key: null, title: 'd', last_seq: SCRAMBLED.length, disappearing_seconds: 0, created_by: 'a', created_at: T0, updated_at: T0, description: '', info_policy: 'admins' } as never)
        .execute();
      await db.insertInto('members').values({ ...member('a', 0), conversation_id: 'd' } as never).execute();
      for (const seq of SCRAMBLED) await db.insertInto('messages').values(msg(seq, { id: `d-${seq}`, conversation_id: 'd', client_id: `d-${seq}` })).execute();
    });
    afterAll(async () => {
      await database?.drop();
    });

    const page = async (userId: string, q: { after?: number; before?: number; limit: number }) => {
      const items = await historyItems(database.db, dialect, userId, 'c', q, NOW);
      // The byte count the body is sized by (SQLite's own count of the text it stored).
      expect(items.bytes).toBe(Buffer.byteLength(items.text));
      return JSON.parse(`[${items.text}]`) as unknown[];
    };
    /** What toEnvelope and JSON make of the same rows: compared as JSON text, so key order and absent keys count. */
    const expected = (rows: MessageRow[]) => rows.map((r) => JSON.parse(JSON.stringify(toEnvelope(r, NOW))) as unknown);
    const same = (got: unknown[], rows: MessageRow[]) => {
      expect(got).toStrictEqual(expected(rows));
      expect(JSON.stringify(got)).toBe(JSON.stringify(expected(rows)));
    };

    it('writes every kind of row as toEnvelope does', async () => {
      same(await page('b', { after: 0, limit: 200 }), ROWS);
    });

    it('writes each envelope on its own the same way', async () => {
      for (const row of ROWS) same(await page('a', { after: row.seq - 1, limit: 1 }), [row]);
    });

    it('gives the page asked for, in seq order, whichever way it is asked', async () => {
      same(await page('a', { after: 3, limit: 4 }), ROWS.slice(3, 7));
      same(await page('a', { before: 9, limit: 3 }), ROWS.slice(5, 8));
      same(await page('a', { limit: 5 }), ROWS.slice(-5));
      same(await page('a', { before: 1, limit: 5 }), []);
      same(await page('a', { after: ROWS.length, limit: 5 }), []);
    });

    it('gives a page in seq order whatever order its rows were stored in', async () => {
      const seqs = async (q: { after?: number; before?: number; limit: number }) =>
        (JSON.parse(`[${(await historyItems(database.db, dialect, 'a', 'd', q, NOW)).text}]`) as { seq: number }[]).map((e) => e.seq);
      const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
      expect(await seqs({ after: 0, limit: 200 })).toEqual(range(1, 40));
      expect(await seqs({ after: 10, limit: 7 })).toEqual(range(11, 17));
      expect(await seqs({ before: 30, limit: 5 })).toEqual(range(25, 29));
      expect(await seqs({ limit: 6 })).toEqual(range(35, 40));
    });

    it('never gives what came before the member joined, and nothing to a non-member', async () => {
      same(await page('late', { after: 0, limit: 200 }), ROWS.filter((r) => r.seq >= 10));
      same(await page('late', { limit: 200 }), ROWS.filter((r) => r.seq >= 10));
      same(await page('late', { before: 12, limit: 200 }), ROWS.filter((r) => r.seq >= 10 && r.seq < 12));
      expect(await historyItems(database.db, dialect, 'z', 'c', { after: 0, limit: 200 }, NOW)).toEqual({ text: '', bytes: 0 });
      expect(await historyItems(database.db, dialect, 'a', 'nope', { limit: 200 }, NOW)).toEqual({ text: '', bytes: 0 });
    });

    it('decides expiry by the time it is given', async () => {
      const before = JSON.parse(`[${(await historyItems(database.db, dialect, 'a', 'c', { after: 9, limit: 1 }, '2026-12-01T22:59:59.999Z')).text}]`);
      expect(before[0].content).not.toBeNull();
      expect(before[0].attachmentIds).toEqual([A2]);
      const after = JSON.parse(`[${(await historyItems(database.db, dialect, 'a', 'c', { after: 9, limit: 1 }, LATER)).text}]`);
      expect(after[0].content).toBeNull();
      expect(after[0].attachmentIds).toEqual([]);
      expect(after[0].expiresAt).toBe(LATER);
    });
  });
}
