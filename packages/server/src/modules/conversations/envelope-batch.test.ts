/**
 * The one-statement form of a batch of plain sends (`MessageLog.appendPlain`, PostgreSQL)
 * against the steps it replaces (`findByClientIds`, `appendEnvelopes`, `listeners`): the
 * same rows, seqs, side effects and errors, on two copies of the same conversations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../../../test/harness.ts';
import { type Database, type MessageRow } from '../../storage/db.ts';
import { appendEnvelopes, type BatchEnvelope } from './envelope-batch.ts';

const STAMP = '2026-12-01T22:00:30.555Z';
const EARLIER = '2026-12-01T21:00:00.000Z';

/** Two copies ('a' and 'b') of the same conversations, members and stored messages. */
async function seed(database: Database, w: string): Promise<void> {
  const { db } = database;
  const conv = (id: string, type: 'direct' | 'group', lastSeq: number, disappearing: number) => ({
    id: `${w}-${id}`, type, direct_key: null, title: null, last_seq: lastSeq, disappearing_seconds: disappearing, created_by: 'u1', created_at: EARLIER, updated_at: EARLIER,
  });
  await db
    .insertInto('conversations')
    .values([conv('g1', 'group', 5, 0), conv('g2', 'group', 2, 3600), conv('d', 'direct', 0, 0), conv('quiet', 'group', 1, 0)] as never)
    .execute();
  const member = (id: string, user: string, state: 'active' | 'request' | 'declined', extra: { archived?: number; muted?: number; muted_until?: string | null } = {}) => ({
    conversation_id: `${w}-${id}`, user_id: user, role: 'member', state, joined_at: EARLIER, joined_seq: 0, read_seq: 0, delivered_seq: 0, request_sent: 0,
    muted: extra.muted ?? 0, muted_until: extra.muted_until ?? null, archived: extra.archived ?? 0, updated_at: EARLIER,
  });
  await db
    .insertInto('members')
    .values([
      // Two senders in g1: every archived member who did not mute it comes back, senders too.
      member('g1', 'u1', 'active', { archived: 1 }),
      member('g1', 'u2', 'active', { archived: 1 }),
      member('g1', 'u3', 'active', { archived: 1, muted: 1 }),
      member('g1', 'u4', 'declined'),
      // One sender in g2 (u1): it stays archived; a mute that ran out does not hold u2 back.
      member('g2', 'u1', 'active', { archived: 1 }),
      member('g2', 'u2', 'active', { archived: 1, muted: 1, muted_until: EARLIER }),
      member('g2', 'u3', 'request'),
      member('d', 'u1', 'active', { archived: 1 }),
      member('d', 'u2', 'active', { archived: 1 }),
      member('quiet', 'u1', 'active'),
      member('quiet', 'u2', 'active', { archived: 1 }),
    ] as never)
    .execute();
  await db
    .insertInto('messages')
    .values({
      id: `${w}-old`, conversation_id: `${w}-quiet`, seq: 1, sender_id: 'u1', sender_device_id: `${w}-dev1`, client_id: 'old-1', kind: 'message', ref_target: null, ref_reply_to: null,
      encoding: 'plain', data: 'old', attachment_ids: '[]', created_at: EARLIER, edited_at: null, deleted_at: null, expires_at: null,
    })
    .execute();
}

/** A batch as the group commit hands it over (grouped by conversation) with a twin and a retry. */
function entries(w: string): BatchEnvelope[] {
  const e = (conv: string, user: string, clientId: string, kind: 'message' | 'reaction' = 'message', refs: { refTarget?: string; refReplyTo?: string } = {}): BatchEnvelope => ({
    conversationId: `${w}-${conv}`, senderId: user, senderDeviceId: `${w}-dev${user.slice(1)}`, clientId, kind, encoding: 'plain', data: `${conv}:${clientId}`, ...refs,
  });
  return [
    e('d', 'u2', 'c4', 'message', { refReplyTo: 'x' }),
    e('g1', 'u1', 'c1'),
    e('g1', 'u2', 'c2', 'reaction', { refTarget: 'y' }),
    e('g1', 'u1', 'c1'), // a twin of the first c1
    e('g1', 'u2', 'c6'),
    e('g2', 'u1', 'c3'),
    e('g2', 'u1', 'c5'),
    e('quiet', 'u1', 'old-1'), // a retry of a stored send
  ];
}

/** What the steps appendPlain replaces give, as commitBatch runs them. */
async function stepwise(database: Database, list: BatchEnvelope[]) {
  const log = database.messageLog;
  return database.db.transaction().execute(async (trx) => {
    const stored = await log.findByClientIds(trx, list.map((e) => ({ deviceId: e.senderDeviceId, clientId: e.clientId })));
    const seen = new Set(stored.map((r) => `${r.sender_device_id}/${r.client_id}`));
    const fresh = list.filter((e) => {
      const key = `${e.senderDeviceId}/${e.clientId}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const appended = await appendEnvelopes(log, trx, fresh, STAMP);
    const listeners = await log.listeners(trx, [...new Set(fresh.map((e) => e.conversationId))]);
    return { stored, appended, listeners };
  });
}

/** Everything a batch may change, with the copy's prefix taken out of ids. */
async function state(database: Database, w: string) {
  const strip = (v: unknown) => (typeof v === 'string' ? v.replace(`${w}-`, '') : v);
  const clean = <T extends object>(rows: T[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'id' && !String(v).startsWith(`${w}-`) ? '(new)' : strip(v)])));
  const like = `${w}-%`;
  const { db } = database;
  return {
    conversations: clean(await db.selectFrom('conversations').select(['id', 'last_seq', 'updated_at']).where('id', 'like', like).orderBy('id').execute()),
    members: clean(await db.selectFrom('members').select(['conversation_id', 'user_id', 'archived', 'updated_at']).where('conversation_id', 'like', like).orderBy('conversation_id').orderBy('user_id').execute()),
    messages: clean(await db.selectFrom('messages').selectAll().where('conversation_id', 'like', like).orderBy('conversation_id').orderBy('seq').execute()),
  };
}

const cleanRows = (rows: MessageRow[], w: string) =>
  rows.map((r) => ({ ...r, id: r.id === `${w}-old` ? 'old' : '(new)', conversation_id: r.conversation_id.replace(`${w}-`, ''), sender_device_id: r.sender_device_id.replace(`${w}-`, '') }));
const cleanListeners = (m: Map<string, string[]>, w: string) => Object.fromEntries([...m].map(([k, v]) => [k.replace(`${w}-`, ''), [...v].sort()]));

for (const dialect of DIALECTS) {
  describe(`a batch of plain sends in one statement [${dialect}]`, () => {
    let database: FreshDatabase;
    beforeAll(async () => {
      database = await freshDatabase(dialect);
      await database.db.insertInto('users').values(['u1', 'u2', 'u3', 'u4'].map((id) => ({ id, username: id, display_name: id, created_at: EARLIER })) as never).execute();
      for (const w of ['a', 'b', 'c', 'd']) await seed(database, w);
    });
    afterAll(async () => {
      await database?.drop();
    });

    it('gives the rows, seqs, retries, listeners and side effects of the steps it replaces', async ({ skip }) => {
      const appendPlain = database.messageLog.appendPlain;
      if (!appendPlain) return skip();
      const reference = await stepwise(database, entries('a'));
      const { value: one } = await database.commitBatch((trx) => appendPlain(trx, entries('b'), STAMP));

      expect(cleanRows(one.appended, 'b')).toEqual(cleanRows(reference.appended, 'a'));
      expect(cleanRows(one.stored, 'b')).toEqual(cleanRows(reference.stored, 'a'));
      expect(cleanListeners(one.listeners, 'b')).toEqual(cleanListeners(reference.listeners, 'a'));
      expect(await state(database, 'b')).toEqual(await state(database, 'a'));

      // Spelled out: the twin and the retry take no seq; the timer sets expires_at; the quiet conversation is untouched.
      expect(one.appended.map((r) => [r.conversation_id, r.seq, r.client_id])).toEqual([
        ['b-d', 1, 'c4'], ['b-g1', 6, 'c1'], ['b-g1', 7, 'c2'], ['b-g1', 8, 'c6'], ['b-g2', 3, 'c3'], ['b-g2', 4, 'c5'],
      ]);
      expect(one.appended.find((r) => r.client_id === 'c3')?.expires_at).toBe('2026-12-01T23:00:30.555Z');
      expect(one.stored.map((r) => r.id)).toEqual(['b-old']);
      expect(cleanListeners(one.listeners, 'b')).toEqual({ d: ['u1', 'u2'], g1: ['u1', 'u2', 'u3'], g2: ['u1', 'u2', 'u3'] });
      const after = await state(database, 'b');
      expect(after.conversations.find((c) => c.id === 'quiet')).toMatchObject({ last_seq: 1, updated_at: EARLIER });
      expect(after.members.filter((m) => m.archived === 1).map((m) => `${m.conversation_id}/${m.user_id}`)).toEqual(['d/u2', 'g1/u3', 'g2/u1', 'quiet/u2']);
    });

    it('fails whole, as not_found, when a conversation is gone', async ({ skip }) => {
      const appendPlain = database.messageLog.appendPlain;
      if (!appendPlain) return skip();
      const before = await state(database, 'c');
      const batch = [...entries('c'), { ...entries('c')[1]!, conversationId: 'c-gone', clientId: 'c9' }];
      await expect(database.commitBatch((trx) => appendPlain(trx, batch, STAMP))).rejects.toMatchObject({ code: 'not_found' });
      await expect(stepwise(database, batch)).rejects.toMatchObject({ code: 'not_found' });
      expect(await state(database, 'c')).toEqual(before);
    });

    it('runs alone (no BEGIN) only as the first and only statement of a batch', async ({ skip }) => {
      const appendPlain = database.messageLog.appendPlain;
      if (!appendPlain) return skip();
      const one = [entries('d')[1]!];
      // After another statement it is part of the transaction: a throw undoes it.
      await expect(
        database.commitBatch(async (trx) => {
          await sql`select 1`.execute(trx);
          await appendPlain(trx, one, STAMP);
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect((await state(database, 'd')).messages).toHaveLength(1);
      // First: it commits on its own, so nothing may follow it.
      await expect(
        database.commitBatch(async (trx) => {
          await appendPlain(trx, one, STAMP);
          await sql`select 1`.execute(trx);
        }),
      ).rejects.toThrow(/would not be atomic/);
      expect((await state(database, 'd')).messages).toHaveLength(2);
      // The writer's next batch is an ordinary transaction again.
      await expect(
        database.commitBatch(async (trx) => {
          await sql`update conversations set title = 'x' where id = 'd-g1'`.execute(trx);
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect(await database.db.selectFrom('conversations').select('title').where('id', '=', 'd-g1').executeTakeFirst()).toEqual({ title: null });
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`the message log's batch insert [${dialect}]`, () => {
    let database: FreshDatabase;
    beforeAll(async () => {
      database = await freshDatabase(dialect);
    });
    afterAll(async () => {
      await database?.drop();
    });

    it('stores every column of a row where it belongs (a value of its own in each)', async () => {
      await database.db.insertInto('conversations').values({ id: 'rt', type: 'group', direct_key: null, title: null, last_seq: 0, disappearing_seconds: 0, created_by: 'u1', created_at: EARLIER, updated_at: EARLIER } as never).execute();
      const row: MessageRow = {
        id: 'row-id', conversation_id: 'rt', seq: 7, sender_id: 'sender', sender_device_id: 'device', client_id: 'client', kind: 'reaction',
        ref_target: 'target', ref_reply_to: 'reply-to', encoding: 'plain', data: 'data', attachment_ids: '["f"]',
        created_at: '2026-12-01T01:00:00.000Z', edited_at: '2026-12-01T02:00:00.000Z', deleted_at: '2026-12-01T03:00:00.000Z', expires_at: '2026-12-01T04:00:00.000Z',
      };
      await database.db.transaction().execute((trx) => database.messageLog.insertMessages(trx, [row]));
      const stored = await database.db.selectFrom('messages').selectAll().where('id', '=', 'row-id').executeTakeFirstOrThrow();
      expect({ ...stored, seq: Number(stored.seq) }).toEqual(row);
    });
  });
}
