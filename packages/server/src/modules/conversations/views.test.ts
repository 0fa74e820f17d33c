/**
 * `buildViews` reads through queries compiled once per list length, with lists padded to a
 * power of two by repeating their first id, and the caller's unread count as a subquery of
 * the conversation row: the views must come out as the rules say whatever the list's
 * length, order, repeats, chunks and non-member ids.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../../../test/harness.ts';
import { buildViews } from './queries.ts';

const T0 = '2026-12-01T20:00:00.000Z';
const NOW = '2026-12-01T22:00:00.000Z';
const LATER = '2026-12-01T23:00:00.000Z';
/** How many extra conversations `a` is in: more than one chunk (512), not a power of two. */
const MANY = 600;

for (const dialect of DIALECTS) {
  describe(`conversation views [${dialect}]`, () => {
    let database: FreshDatabase;
    beforeAll(async () => {
      database = await freshDatabase(dialect, 'normal');
      const { db } = database;
      await db.insertInto('users').values(['a', 'b', 'c', 'z'].map((id) => ({ id, username: id, display_name: id, created_at: T0 })) as never).execute();
      const conv = (id: string, type: 'direct' | 'group', lastSeq: number, extra: Record<string, unknown> = {}) => ({
        id, type, direct_key: null, title: type === 'group' ? `t-${id}` : null, last_seq: lastSeq, disappearing_seconds: 0, created_by: 'a', created_at: T0, updated_at: T0, description: '', info_policy: 'admins', ...extra,
      });
      await db
        .insertInto('conversations')
        .values([
          conv('g1', 'group', 8, { info_policy: 'members', description: 'about g1' }),
          conv('d1', 'direct', 1),
          conv('other', 'group', 0),
          ...Array.from({ length: MANY }, (_, i) => conv(`m${String(i).padStart(4, '0')}`, 'group', i)),
        ] as never)
        .execute();
      const member = (conversation_id: string, user_id: string, extra: Record<string, unknown> = {}) => ({
        conversation_id, user_id, role: 'member', state: 'active', joined_at: T0, joined_seq: 0, read_seq: 0, delivered_seq: 0, request_sent: 0, muted: 0, muted_until: null, archived: 0, pinned_at: null, updated_at: T0, ...extra,
      });
      await db
        .insertInto('members')
        .values([
          // g1: joined in this order (c first), a has read up to 2 and muted until later, and archived it.
          member('g1', 'c', { role: 'owner', joined_at: '2026-12-01T19:00:00.000Z' }),
          member('g1', 'a', { read_seq: 2, muted: 1, muted_until: LATER, archived: 1, pinned_at: T0 }),
          member('g1', 'b', { role: 'admin', muted: 1, muted_until: T0 }),
          // d1: b declined a's request; only b sees it as declined.
          member('d1', 'a'),
          member('d1', 'b', { state: 'declined' }),
          member('other', 'z'),
          ...Array.from({ length: MANY }, (_, i) => member(`m${String(i).padStart(4, '0')}`, 'a')),
          ...Array.from({ length: MANY }, (_, i) => member(`m${String(i).padStart(4, '0')}`, i % 2 ? 'b' : 'c', { role: 'owner' })),
        ] as never)
        .execute();
      const msg = (seq: number, sender: string, extra: Record<string, unknown> = {}) => ({
        id: `g1-${seq}`, conversation_id: 'g1', seq, sender_id: sender, sender_device_id: `dev-${sender}`, client_id: `g1-${seq}`, kind: 'message', ref_target: null,
        ref_reply_to: null, encoding: 'plain', data: 'x', attachment_ids: '[]', created_at: T0, edited_at: null, deleted_at: null, expires_at: null, ...extra,
      });
      await db
        .insertInto('messages')
        .values([
          msg(1, 'b'), // read
          msg(2, 'b'), // read
          msg(3, 'b'), // unread
          msg(4, 'a'), // mine
          msg(5, 'c', { kind: 'system' }), // not a message
          msg(6, 'c', { deleted_at: T0 }), // unsent
          msg(7, 'c', { expires_at: T0 }), // expired by NOW
          msg(8, 'c', { expires_at: LATER }), // not yet expired: unread
        ] as never)
        .execute();
    });
    afterAll(async () => {
      await database?.drop();
    });

    it('views a conversation as its member sees it', async () => {
      const [g1] = await buildViews(database.db, 'a', ['g1'], NOW);
      expect(g1).toEqual({
        id: 'g1',
        type: 'group',
        title: 't-g1',
        description: 'about g1',
        avatarAttachmentId: null,
        infoEditableBy: 'members',
        members: [
          { userId: 'c', role: 'owner', state: 'active' },
          { userId: 'a', role: 'member', state: 'active' },
          { userId: 'b', role: 'admin', state: 'active' },
        ],
        myState: 'active',
        lastSeq: 8,
        unreadCount: 2,
        muted: true,
        mutedUntil: LATER,
        archived: true,
        pinned: true,
        disappearingSeconds: 0,
        createdAt: T0,
        updatedAt: T0,
      });
      // b's mute ran out. b sent 1–3 and has read nothing: unread are 4 (a's) and 8; 5 is a
      // system envelope, 6 was unsent, 7 has expired.
      const [forB] = await buildViews(database.db, 'b', ['g1'], NOW);
      expect(forB).toMatchObject({ muted: false, mutedUntil: null, archived: false, pinned: false, unreadCount: 2 });
    });

    it('shows a declined request to its recipient only', async () => {
      const [forA] = await buildViews(database.db, 'a', ['d1'], NOW);
      const [forB] = await buildViews(database.db, 'b', ['d1'], NOW);
      expect(forA!.members).toEqual([
        { userId: 'a', role: 'member', state: 'active' },
        { userId: 'b', role: 'member', state: 'request' },
      ]);
      expect(forA!.myState).toBe('active');
      expect(forB!.members.find((m) => m.userId === 'b')!.state).toBe('declined');
      expect(forB!.myState).toBe('declined');
      expect(forA!.infoEditableBy).toBe('members');
    });

    it('keeps the order asked, leaves out what the user is not in, and reads each list length the same', async () => {
      for (const ids of [['d1', 'g1', 'other'], ['other', 'g1'], ['g1', 'd1', 'g1'], ['missing', 'd1', 'other', 'g1', 'd1']]) {
        const views = await buildViews(database.db, 'a', ids, NOW);
        const expected = ids.filter((id) => id === 'g1' || id === 'd1');
        expect(views.map((v) => v.id)).toEqual(expected);
        const single = await Promise.all(expected.map(async (id) => (await buildViews(database.db, 'a', [id], NOW))[0]));
        expect(views).toEqual(single);
      }
      expect(await buildViews(database.db, 'a', [], NOW)).toEqual([]);
      expect(await buildViews(database.db, 'a', ['other'], NOW)).toEqual([]);
    });

    it('reads a list longer than a chunk, each view with its own members', async () => {
      const ids = Array.from({ length: MANY }, (_, i) => `m${String(MANY - 1 - i).padStart(4, '0')}`);
      const views = await buildViews(database.db, 'a', ['g1', ...ids], NOW);
      expect(views.map((v) => v.id)).toEqual(['g1', ...ids]);
      for (const v of views.slice(1)) {
        const i = Number(v.id.slice(1));
        expect(v.lastSeq).toBe(i);
        expect(v.unreadCount).toBe(0);
        expect(v.members.map((m) => m.userId).sort()).toEqual(['a', i % 2 ? 'b' : 'c']);
      }
    });
  });
}
