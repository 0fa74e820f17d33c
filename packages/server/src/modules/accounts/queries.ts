import type { User } from '@parley/protocol';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { DB } from '../../storage/db.ts';
import type { UsersTable } from '../../storage/schema.ts';

export type UserRow = Selectable<UsersTable>;

/** The username a deleted account is shown under; nobody may sign up with it. */
export const DELETED_USERNAME = 'deleted';

export function toUser(row: Pick<UserRow, 'id' | 'username' | 'display_name' | 'bio' | 'deleted_at'>): User {
  if (row.deleted_at) return { id: row.id, username: DELETED_USERNAME, displayName: 'Deleted account', bio: '', deleted: true };
  return { id: row.id, username: row.username, displayName: row.display_name, bio: row.bio };
}

export const findUserById = (db: Kysely<DB>, id: string) => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();

export const findUserByUsername = (db: Kysely<DB>, username: string) =>
  db.selectFrom('users').selectAll().where('username', '=', username.toLowerCase()).where('deleted_at', 'is', null).executeTakeFirst();

export function findUsersByIds(db: Kysely<DB>, ids: string[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('users').selectAll().where('id', 'in', ids).execute();
}

/** Prefix search on username and display name; callers filter out who may not be seen. */
export function searchUsers(db: Kysely<DB>, query: string, limit: number, afterUsername?: string) {
  const q = query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
  let select = db
    .selectFrom('users')
    .selectAll()
    .where('deleted_at', 'is', null)
    .where(sql<boolean>`(username like ${`${q}%`} escape '\\' or lower(display_name) like ${`${q}%`} escape '\\')`);
  if (afterUsername !== undefined) select = select.where('username', '>', afterUsername);
  return select.orderBy('username').limit(limit).execute();
}
