import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshStorage } from '../../../test/harness.ts';
import { openDatabase, type Database } from '../../storage/db.ts';
import { batchedSendFacts, findSendFacts } from './send-facts.ts';

for (const dialect of DIALECTS) {
  describe(`send facts [${dialect}]`, () => {
    let storage: Awaited<ReturnType<typeof freshStorage>>;
    let database: Database;
    beforeAll(async () => {
      storage = await freshStorage(dialect);
      database = await openDatabase({ dataDir: storage.dataDir, databaseUrl: storage.databaseUrl, durability: 'full' });
      const now = new Date().toISOString();
      const { db } = database;
      await db.insertInto('users').values(['a', 'b', 'c'].map((id) => ({ id, username: id, display_name: id, created_at: now })) as never).execute();
      const conv = (id: string, type: 'direct' | 'group') => ({ id, type, direct_key: null, title: null, last_seq: 7, disappearing_seconds: 0, created_by: 'a', created_at: now, updated_at: now });
      await db.insertInto('conversations').values([conv('d1', 'direct'), conv('g1', 'group')] as never).execute();
      const member = (conversation_id: string, user_id: string, state: 'active' | 'request') => ({
        conversation_id, user_id, role: 'member' as const, state, joined_at: now, joined_seq: 1, read_seq: 0, delivered_seq: 0, request_sent: 0, muted: 0, archived: 0, updated_at: now,
      });
      await db.insertInto('members').values([member('d1', 'a', 'active'), member('d1', 'b', 'request'), member('g1', 'a', 'active'), member('g1', 'b', 'active'), member('g1', 'c', 'active')] as never).execute();
    });
    afterAll(async () => {
      await database?.close();
      await storage?.drop();
    });

    it('reads the membership and, in a direct conversation only, the peer; batched lookups answer each the same', async () => {
      const single = await Promise.all([
        findSendFacts(database.db, 'a', 'd1'),
        findSendFacts(database.db, 'b', 'd1'),
        findSendFacts(database.db, 'a', 'g1'),
        findSendFacts(database.db, 'c', 'd1'),
      ]);
      expect(single[0]).toMatchObject({ membership: { conversationId: 'd1', userId: 'a', type: 'direct', state: 'active', lastSeq: 7 }, peer: { userId: 'b', state: 'request' } });
      expect(single[1]).toMatchObject({ membership: { userId: 'b', state: 'request' }, peer: { userId: 'a', state: 'active' } });
      expect(single[2]).toMatchObject({ membership: { conversationId: 'g1', type: 'group' }, peer: null });
      expect(single[3]).toBeNull();
      // Asked in one turn of the event loop: one query answers them all, each as asked.
      const load = batchedSendFacts(database.db);
      const batched = await Promise.all([load('a', 'd1'), load('b', 'd1'), load('a', 'g1'), load('c', 'd1')]);
      expect(batched).toEqual(single);
      expect(await load('b', 'g1')).toMatchObject({ membership: { userId: 'b', conversationId: 'g1' }, peer: null });
    });
  });
}
