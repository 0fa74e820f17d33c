import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../../../test/harness.ts';
import { mayWriteDirect } from './policy.ts';

for (const dialect of DIALECTS) {
  describe(`mayWriteDirect [${dialect}]`, () => {
    let database: FreshDatabase;
    beforeAll(async () => {
      database = await freshDatabase(dialect);
      const now = new Date().toISOString();
      const { db } = database;
      await db
        .insertInto('users')
        .values(['a', 'b', 'c', 'd', 'gone'].map((id) => ({ id, username: id, display_name: id, created_at: now, deleted_at: id === 'gone' ? now : null })) as never)
        .execute();
      // c blocked a; d was blocked by a.
      await db.insertInto('blocks').values([{ blocker_id: 'c', blocked_id: 'a', created_at: now }, { blocker_id: 'a', blocked_id: 'd', created_at: now }]).execute();
    });
    afterAll(async () => {
      await database?.drop();
    });

    // The send path reads the same rule with its send facts: send-facts.test.ts.
    it('refuses a block either way and a deleted or unknown account', async () => {
      const pairs: [string, string][] = [['a', 'b'], ['b', 'a'], ['a', 'c'], ['c', 'a'], ['a', 'd'], ['d', 'a'], ['a', 'gone'], ['a', 'nobody'], ['b', 'c']];
      const expected = [true, true, false, false, false, false, false, false, true];
      expect(await Promise.all(pairs.map(([f, t]) => mayWriteDirect(database.db, f, t)))).toEqual(expected);
    });
  });
}
