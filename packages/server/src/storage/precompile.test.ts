import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshDatabase, type FreshDatabase } from '../../test/harness.ts';
import { openDatabase, precompile, type Database } from './db.ts';

describe('precompile', () => {
  let dir: string;
  let database: Database;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'parley-precompile-'));
    database = await openDatabase({ dataDir: dir, durability: 'full' });
    await sql`create table pc (a text, b text, kind text)`.execute(database.db);
    await sql`insert into pc values ('x', 'y', 'k1'), ('y', 'x', 'k1'), ('x', 'z', 'k2')`.execute(database.db);
  });
  afterAll(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the compiled query with new values each time: repeated arguments and constants in place', async () => {
    const db = database.db.withTables<{ pc: { a: string; b: string; kind: string } }>();
    const either = precompile(2, (p: string, q: string) =>
      db
        .selectFrom('pc')
        .select(['a', 'b'])
        .where('kind', '=', 'k1')
        .where((eb) => eb.or([eb.and([eb('a', '=', p), eb('b', '=', q)]), eb.and([eb('a', '=', q), eb('b', '=', p)])]))
        .orderBy('a'),
    );
    expect(await either(db as never, 'x', 'y')).toEqual([
      { a: 'x', b: 'y' },
      { a: 'y', b: 'x' },
    ]);
    // The constant 'k1' stays: ('x','z') is k2.
    expect(await either(db as never, 'z', 'x')).toEqual([]);
  });

  it('refuses a build that does not bind an argument as a value', () => {
    const db = database.db.withTables<{ pc: { a: string; b: string; kind: string } }>();
    expect(() => precompile(2, (p: string, _q: string) => db.selectFrom('pc').select('a').where('a', '=', p))).toThrow(/argument 1/);
  });
});

describe.runIf(DIALECTS.includes('postgres'))('precompile on PostgreSQL', () => {
  let database: FreshDatabase;
  beforeAll(async () => {
    database = await freshDatabase('postgres');
    await sql`create table pc (a text, b text)`.execute(database.db);
    await sql`insert into pc values ('x', 'y'), ('y', 'z')`.execute(database.db);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('sends a precompiled query as a named statement, prepared once per connection', async () => {
    const db = database.db.withTables<{ pc: { a: string; b: string } }>();
    const byA = precompile(1, (a: string) => db.selectFrom('pc').select('b').where('a', '=', a));
    const named = await db.connection().execute(async (conn) => {
      // One connection throughout: pg_prepared_statements is per session.
      expect(await byA(conn as never, 'x')).toEqual([{ b: 'y' }]);
      expect(await byA(conn as never, 'y')).toEqual([{ b: 'z' }]);
      const { rows } = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements where name like 'parley_%'`.execute(conn);
      return rows.find((r) => r.statement.includes('"pc"'));
    });
    expect(named?.name).toMatch(/^parley_\d+$/);
    // Any other query still goes out unnamed (ad hoc SQL is not prepared by name).
    await db.connection().execute(async (conn) => {
      await sql`select b from pc where a = ${'x'}`.execute(conn);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where statement like '%from pc where a = $1%'`.execute(conn);
      expect(rows[0]!.n).toBe(0);
    });
  });
});
