import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../../../test/harness.ts';
import { batchedSendFacts, findSendFacts } from './send-facts.ts';

for (const dialect of DIALECTS) {
  describe(`send facts [${dialect}]`, () => {
    let database: FreshDatabase;
    beforeAll(async () => {
      database = await freshDatabase(dialect);
      const now = new Date().toISOString();
      const { db } = database;
      await db.insertInto('users').values(['a', 'b', 'c', 'd'].map((id) => ({ id, username: id, display_name: id, created_at: now })) as never).execute();
      const conv = (id: string, type: 'direct' | 'group') => ({ id, type, direct_key: null, title: null, last_seq: 7, disappearing_seconds: 0, created_by: 'a', created_at: now, updated_at: now });
      await db.insertInto('conversations').values([conv('d1', 'direct'), conv('d2', 'direct'), conv('g1', 'group')] as never).execute();
      const member = (conversation_id: string, user_id: string, state: 'active' | 'request') => ({
        conversation_id, user_id, role: 'member' as const, state, joined_at: now, joined_seq: 1, read_seq: 0, delivered_seq: 0, request_sent: 0, muted: 0, archived: 0, updated_at: now,
      });
      await db
        .insertInto('members')
        .values([member('d1', 'a', 'active'), member('d1', 'b', 'request'), member('d2', 'c', 'active'), member('d2', 'd', 'active'), member('g1', 'a', 'active'), member('g1', 'b', 'active'), member('g1', 'c', 'active')] as never)
        .execute();
    });
    afterAll(async () => {
      await database?.drop();
    });

    it('reads the membership and, in a direct conversation only, the peer; batched lookups answer each the same', async () => {
      const single = await Promise.all([
        findSendFacts(database.db, 'a', 'd1'),
        findSendFacts(database.db, 'b', 'd1'),
        findSendFacts(database.db, 'a', 'g1'),
        findSendFacts(database.db, 'c', 'd1'),
      ]);
      expect(single[0]).toMatchObject({ membership: { conversationId: 'd1', userId: 'a', type: 'direct', state: 'active', lastSeq: 7 }, peer: { userId: 'b', state: 'request', mayWrite: true } });
      expect(single[1]).toMatchObject({ membership: { userId: 'b', state: 'request' }, peer: { userId: 'a', state: 'active', mayWrite: true } });
      expect(single[2]).toMatchObject({ membership: { conversationId: 'g1', type: 'group' }, peer: null });
      expect(single[3]).toBeNull();
      // Asked in one turn of the event loop: one query answers them all, each as asked.
      const load = batchedSendFacts(database.db);
      const batched = await Promise.all([load('a', 'd1'), load('b', 'd1'), load('a', 'g1'), load('c', 'd1')]);
      expect(batched).toEqual(single);
      expect(await load('b', 'g1')).toMatchObject({ membership: { userId: 'b', conversationId: 'g1' }, peer: null });
    });

    // The folded check stands in for the graph's own query on every direct send: it must
    // follow blocks and deletions made after the conversation exists, in both forms.
    it("reads the graph's may-write rule for the peer: blocks either way, a deleted account, an unblock", async () => {
      const { db } = database;
      const now = new Date().toISOString();
      const load = batchedSendFacts(db);
      const asks: [string, string][] = [['a', 'd1'], ['b', 'd1'], ['c', 'd2'], ['d', 'd2']];
      /** Each sender's `peer.mayWrite`, once both forms agree. */
      const mayWrite = async () => {
        const single = await Promise.all(asks.map(([u, c]) => findSendFacts(db, u, c)));
        expect(await Promise.all(asks.map(([u, c]) => load(u, c)))).toEqual(single);
        return single.map((f) => f!.peer!.mayWrite);
      };
      const block = (blocker_id: string, blocked_id: string) => () => db.insertInto('blocks').values({ blocker_id, blocked_id, created_at: now }).execute();
      const unblock = (blocker_id: string, blocked_id: string) => () => db.deleteFrom('blocks').where('blocker_id', '=', blocker_id).where('blocked_id', '=', blocked_id).execute();
      const deleted = (id: string, at: string | null) => () => db.updateTable('users').set({ deleted_at: at }).where('id', '=', id).execute();
      // Each step, then what a, b (in d1) and c, d (in d2) may do. Either side's block stops both; other conversations go on.
      const ok = [true, true, true, true];
      const d1Stopped = [false, false, true, true];
      const steps: [string, () => Promise<unknown>, boolean[]][] = [
        ['as created', async () => {}, ok],
        ['the sender blocks the peer', block('a', 'b'), d1Stopped],
        ['and unblocks', unblock('a', 'b'), ok],
        ['the peer blocks the sender', block('b', 'a'), d1Stopped],
        ['both block', block('a', 'b'), d1Stopped],
        ['the peer unblocks, the sender still blocks', unblock('b', 'a'), d1Stopped],
        ['the sender unblocks too', unblock('a', 'b'), ok],
        ['a block outside the conversation', block('a', 'c'), ok],
        // Direct conversations keep a deleted account's member row: nobody writes to it.
        ['the peer deletes their account', deleted('d', now), [true, true, false, true]],
        ['(undone)', deleted('d', null), ok],
      ];
      for (const [step, act, expected] of steps) {
        await act();
        expect(await mayWrite(), step).toEqual(expected);
      }
      // In a group there is no peer to ask about, blocks or not (a blocks c above).
      expect(await findSendFacts(db, 'a', 'g1')).toMatchObject({ membership: { conversationId: 'g1' }, peer: null });
      expect(await load('c', 'g1')).toMatchObject({ membership: { conversationId: 'g1' }, peer: null });
    });
  });
}
