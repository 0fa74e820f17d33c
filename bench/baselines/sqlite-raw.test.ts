/**
 * W4's raw insert runs in shares, in turns with Parley: every row made at `open` is written
 * exactly once across the shares, in order (each conversation's seqs 1, 2, 3, …), and the
 * last share stops at the rows there are.
 */
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowIso, uuidv7 } from '../../packages/server/src/ids.ts';
import { freshStorage, openStorage, seedUsers, type Storage } from '../lib/parley.ts';
import { finish, insert, openInsert } from './sqlite-raw.ts';

describe('the raw insert in shares', () => {
  let storage: Storage;
  const conversations = [uuidv7(), uuidv7(), uuidv7()];
  let owner: string;
  beforeAll(async () => {
    storage = await freshStorage('sqlite');
    const database = await openStorage(storage);
    owner = (await seedUsers(database, 1, 'rawtest'))[0]!.id;
    const now = nowIso();
    await database.db
      .insertInto('conversations')
      .values(conversations.map((id) => ({ id, type: 'group', direct_key: null, title: 'raw', description: '', avatar_attachment_id: null, info_policy: 'admins', last_seq: 0, disappearing_seconds: 0, created_by: owner, created_at: now, updated_at: now })))
      .execute();
    await database.close();
  });
  afterAll(async () => storage?.drop());

  it('writes every row once over the shares, and refuses to run outside a session', () => {
    expect(() => insert({ count: 10 })).toThrow(/open first/);
    expect(openInsert({ file: storage.file!, count: 25, batch: 4, conversations, userId: owner, deviceId: uuidv7() })).toEqual({ rows: 25 });
    expect(() => openInsert({ file: storage.file!, count: 1, batch: 4, conversations, userId: owner, deviceId: uuidv7() })).toThrow(/open/);
    const shares = [insert({ count: 10 }), insert({ count: 10 }), insert({ count: 10 }), insert({ count: 10 })];
    expect(shares.map((s) => s.rows)).toEqual([10, 10, 5, 0]);
    for (const s of shares.slice(0, 3)) {
      expect(s.elapsed).toBeGreaterThan(0);
      expect(s.rate).toBeCloseTo(s.rows / s.elapsed);
    }
    const done = finish();
    expect(done.rows).toBe(25);
    expect(done.bytesPerMessage).toBeGreaterThan(0);
    expect(() => finish()).toThrow(/no insert session/);

    const db = new SQLite(storage.file!, { readonly: true });
    const seqs = db.prepare('select conversation_id as c, seq from messages order by rowid').all() as { c: string; seq: number }[];
    db.close();
    for (const c of conversations) {
      const mine = seqs.filter((r) => r.c === c).map((r) => r.seq);
      expect(mine).toEqual(Array.from({ length: mine.length }, (_, i) => i + 1));
    }
    expect(seqs).toHaveLength(25);
  });
});
