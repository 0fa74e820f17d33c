/**
 * The send facts kept in memory (SQLite): every write that can change what a send may do
 * drops them, whatever code path wrote it (the database's triggers report it inside the
 * writing statement), and nothing else does.
 */
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../../../test/harness.ts';
import { findSendFacts, SendFactsCache, type SendFacts } from './send-facts.ts';

describe('send facts cache [sqlite]', () => {
  let database: FreshDatabase;
  let cache: SendFactsCache;
  let reads = 0;
  let changes = 0;
  const now = new Date().toISOString();
  /** A member row as the conversations module writes it. */
  const member = (conversation_id: string, user_id: string, state: 'active' | 'request' = 'active', joined_seq = 1) => ({
    conversation_id, user_id, role: 'member' as const, state, joined_at: now, joined_seq, read_seq: 0, delivered_seq: 0, request_sent: 0, muted: 0, archived: 0, updated_at: now,
  });

  beforeAll(async () => {
    database = await freshDatabase('sqlite');
    const { db } = database;
    await db.insertInto('users').values(['a', 'b', 'c', 'd'].map((id) => ({ id, username: id, display_name: id, created_at: now })) as never).execute();
    const conv = (id: string, type: 'direct' | 'group') => ({ id, type, direct_key: null, title: null, last_seq: 7, disappearing_seconds: 0, created_by: 'a', created_at: now, updated_at: now });
    await db.insertInto('conversations').values([conv('d1', 'direct'), conv('g1', 'group')] as never).execute();
    await db.insertInto('members').values([member('d1', 'a', 'active'), member('d1', 'b', 'request'), member('g1', 'a', 'active'), member('g1', 'b', 'active')] as never).execute();
    cache = new SendFactsCache(async (userId, conversationId) => {
      reads++;
      return findSendFacts(db, userId, conversationId);
    });
    database.watchSendFacts!(() => {
      changes++;
      cache.invalidate();
    });
  });
  afterAll(async () => {
    await database?.drop();
  });

  /** The cached answer, checked against the database's own. */
  const facts = async (userId: string, conversationId: string): Promise<SendFacts | null> => {
    const cached = await cache.get(userId, conversationId);
    expect(cached).toEqual(await findSendFacts(database.db, userId, conversationId));
    return cached;
  };

  it('answers a second lookup from memory, and a non-member from the database each time', async () => {
    const before = reads;
    await facts('a', 'd1');
    await facts('a', 'd1');
    await facts('a', 'd1');
    expect(reads - before).toBe(1);
    await cache.get('c', 'g1');
    await cache.get('c', 'g1');
    expect(reads - before).toBe(3);
  });

  it('is dropped by every write that changes what a send may do, and follows it', async () => {
    const { db } = database;
    const steps: [string, () => Promise<unknown>, (f: SendFacts | null) => void][] = [
      ['the peer blocks the sender', () => db.insertInto('blocks').values({ blocker_id: 'b', blocked_id: 'a', created_at: now }).execute(), (f) => expect(f!.peer!.mayWrite).toBe(false)],
      ['and unblocks', () => db.deleteFrom('blocks').where('blocker_id', '=', 'b').execute(), (f) => expect(f!.peer!.mayWrite).toBe(true)],
      ['the peer deletes their account', () => db.updateTable('users').set({ deleted_at: now }).where('id', '=', 'b').execute(), (f) => expect(f!.peer!.mayWrite).toBe(false)],
      ['(undone)', () => db.updateTable('users').set({ deleted_at: null }).where('id', '=', 'b').execute(), (f) => expect(f!.peer!.mayWrite).toBe(true)],
      ['the peer accepts the request', () => db.updateTable('members').set({ state: 'active' }).where('user_id', '=', 'b').where('conversation_id', '=', 'd1').execute(), (f) => expect(f!.peer!.state).toBe('active')],
      ['the sender has sent a request message', () => db.updateTable('members').set({ request_sent: 2 }).where('user_id', '=', 'a').where('conversation_id', '=', 'd1').execute(), (f) => expect(f!.membership.requestSent).toBe(2)],
      ['the sender becomes an admin', () => db.updateTable('members').set({ role: 'admin' }).where('user_id', '=', 'a').where('conversation_id', '=', 'd1').execute(), (f) => expect(f!.membership.role).toBe('admin')],
      ['the sender rejoins later', () => db.updateTable('members').set({ joined_seq: 5 }).where('user_id', '=', 'a').where('conversation_id', '=', 'd1').execute(), (f) => expect(f!.membership.joinedSeq).toBe(5)],
      ['the sender is removed', () => db.deleteFrom('members').where('user_id', '=', 'a').where('conversation_id', '=', 'd1').execute(), (f) => expect(f).toBeNull()],
      ['and added again', () => db.insertInto('members').values(member('d1', 'a', 'active', 9) as never).execute(), (f) => expect(f!.membership.joinedSeq).toBe(9)],
      // Raw SQL, not the query builder: it is the database that reports, not a code path.
      ['a block written by hand', () => sql`insert into blocks (blocker_id, blocked_id, created_at) values ('a', 'b', ${now})`.execute(db), (f) => expect(f!.peer!.mayWrite).toBe(false)],
      ['the conversation is deleted', () => db.deleteFrom('conversations').where('id', '=', 'd1').execute(), (f) => expect(f).toBeNull()],
    ];
    for (const [step, act, check] of steps) {
      await facts('a', 'd1'); // kept before the step
      const seen = changes;
      await act();
      expect(changes, step).toBeGreaterThan(seen);
      check(await facts('a', 'd1'));
    }
  });

  it('is not dropped by writes that do not change what a send may do', async () => {
    const { db } = database;
    await facts('a', 'g1');
    const seen = changes;
    await db.updateTable('members').set({ read_seq: 3, delivered_seq: 4, muted: 1, archived: 1, updated_at: now }).where('conversation_id', '=', 'g1').execute();
    await db.updateTable('conversations').set({ last_seq: 40, title: 'renamed', updated_at: now }).where('id', '=', 'g1').execute();
    await db.updateTable('users').set({ display_name: 'A' }).where('id', '=', 'a').execute();
    expect(changes).toBe(seen);
    const before = reads;
    await cache.get('a', 'g1');
    expect(reads).toBe(before);
  });

  it('does not keep what a lookup read while a change was being written', async () => {
    const db = database.db;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = new SendFactsCache(async (userId, conversationId) => {
      const f = await findSendFacts(db, userId, conversationId);
      await gate; // the change lands between the read and its keeping
      return f;
    });
    database.watchSendFacts!(() => slow.invalidate());
    const pending = slow.get('b', 'g1');
    await db.updateTable('members').set({ role: 'owner' }).where('user_id', '=', 'b').where('conversation_id', '=', 'g1').execute();
    release();
    expect((await pending)!.membership.role).toBe('member'); // what it read: answered, not kept
    expect(slow.size).toBe(0);
    expect((await slow.get('b', 'g1'))!.membership.role).toBe('owner');
  });

  it("keeps each conversation's listeners the same way: followed through members joining, leaving and changing state", async () => {
    const { db, messageLog } = database;
    const listeners = async () => (await messageLog.listeners(db, ['g1'])).get('g1')!;
    const first = await listeners();
    expect([...first].sort()).toEqual(['a', 'b']);
    // Kept, not read again: a write through another connection (which this process's
    // triggers do not see, and which Parley never makes) does not show until a change here.
    const other = new SQLite((database.raw as SQLite.Database).name);
    other.prepare("update members set state = 'declined' where conversation_id = 'g1' and user_id = 'b'").run();
    other.close();
    expect([...(await listeners())].sort()).toEqual(['a', 'b']);
    await db.updateTable('members').set({ state: 'active' }).where('conversation_id', '=', 'g1').where('user_id', '=', 'b').execute();
    await db.insertInto('members').values(member('g1', 'c', 'request') as never).execute();
    expect([...(await listeners())].sort()).toEqual(['a', 'b', 'c']);
    await db.updateTable('members').set({ state: 'declined' }).where('user_id', '=', 'c').execute();
    expect([...(await listeners())].sort()).toEqual(['a', 'b']);
    await db.deleteFrom('members').where('user_id', '=', 'a').where('conversation_id', '=', 'g1').execute();
    expect([...(await listeners())].sort()).toEqual(['b']);
    // A mute is not a change of who hears: still kept (the other connection's change stays unseen).
    const other2 = new SQLite((database.raw as SQLite.Database).name);
    other2.prepare("update members set state = 'declined' where conversation_id = 'g1' and user_id = 'b'").run();
    other2.close();
    await db.updateTable('members').set({ muted: 1 }).where('conversation_id', '=', 'g1').execute();
    expect([...(await listeners())].sort()).toEqual(['b']);
    await db.updateTable('members').set({ state: 'active' }).where('conversation_id', '=', 'g1').where('user_id', '=', 'b').execute();
  });

  it('does not keep listeners read inside a batch that changed members and rolled back', async () => {
    const { db, messageLog } = database;
    const before = [...(await messageLog.listeners(db, ['g1'])).get('g1')!].sort();
    await expect(
      database.commitBatch(async (trx) => {
        await trx.insertInto('members').values(member('g1', 'd') as never).execute();
        expect((await messageLog.listeners(trx, ['g1'])).get('g1')).toContain('d'); // read (and kept) inside
        throw new Error('the batch fails');
      }),
    ).rejects.toThrow('the batch fails');
    expect([...(await messageLog.listeners(db, ['g1'])).get('g1')!].sort()).toEqual(before);
  });

  it('hands out answers nobody can change', async () => {
    const f = (await cache.get('b', 'g1'))!;
    expect(Object.isFrozen(f) && Object.isFrozen(f.membership)).toBe(true);
  });
});
