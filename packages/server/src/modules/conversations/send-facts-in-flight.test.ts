/**
 * batchedSendFacts under load: lookups asked over several turns while queries run, more
 * than one query holds, each answered as the single-row lookup answers it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../../../test/harness.ts';
import { batchedSendFacts, findSendFacts } from './send-facts.ts';

for (const dialect of DIALECTS) {
  describe(`send facts, many lookups in flight [${dialect}]`, () => {
    let database: FreshDatabase;
    const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
    beforeAll(async () => {
      database = await freshDatabase(dialect);
      const now = new Date().toISOString();
      const { db } = database;
      await db.insertInto('users').values(users.map((id) => ({ id, username: id, display_name: id, created_at: now })) as never).execute();
      const conv = (id: string, type: 'direct' | 'group') => ({ id, type, direct_key: null, title: null, last_seq: 3, disappearing_seconds: 0, created_by: 'u0', created_at: now, updated_at: now });
      await db.insertInto('conversations').values([...users.map((u) => conv(`d-${u}`, 'direct')), conv('g', 'group')] as never).execute();
      const member = (conversation_id: string, user_id: string) => ({
        conversation_id, user_id, role: 'member' as const, state: 'active', joined_at: now, joined_seq: 0, read_seq: 0, delivered_seq: 0, request_sent: 0, muted: 0, archived: 0, updated_at: now,
      });
      // d-uN: u0 and uN (d-u0: u0 alone); g: every even user.
      const members = users.flatMap((u) => (u === 'u0' ? [member('d-u0', 'u0')] : [member(`d-${u}`, 'u0'), member(`d-${u}`, u)]));
      await db.insertInto('members').values([...members, ...users.filter((_, i) => i % 2 === 0).map((u) => member('g', u))] as never).execute();
      // u20 may not write to u0 in d-u20 (a block): the batched form must say so too.
      await db.insertInto('blocks').values({ blocker_id: 'u0', blocked_id: 'u20', created_at: now }).execute();
    });
    afterAll(async () => {
      await database?.drop();
    });

    it('answers every lookup as the single query does, past one query’s size and across turns', async () => {
      const asks: [string, string][] = [];
      for (let k = 0; k < 1300; k++) {
        const u = users[k % users.length]!;
        asks.push([u, k % 3 === 0 ? 'g' : `d-${users[(k * 7) % users.length]}`]);
      }
      const load = batchedSendFacts(database.db);
      const answers: Promise<unknown>[] = [];
      // Three waves, each in a turn of its own, asked while the previous ones' queries run.
      for (let wave = 0; wave < 3; wave++) {
        for (const [u, c] of asks.slice(wave * 500, wave * 500 + 500)) answers.push(load(u, c));
        await new Promise((r) => setImmediate(r));
      }
      const batched = await Promise.all(answers);
      const single = await Promise.all(asks.map(([u, c]) => findSendFacts(database.db, u, c)));
      expect(batched).toEqual(single);
      expect(single.filter((f) => f === null).length).toBeGreaterThan(0);
      expect(single.filter((f) => f !== null).length).toBeGreaterThan(0);
      expect(single.filter((f) => f?.peer?.mayWrite === false).length).toBeGreaterThan(0);
    });
  });
}
