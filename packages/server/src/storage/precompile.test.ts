import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
