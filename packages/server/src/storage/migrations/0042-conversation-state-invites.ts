import { sql, type Kysely } from 'kysely';

// Frozen in time: this file imports no application code and is never edited once released.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // Invite links get an id admins can list and revoke them by (the token is shown only once).
  // Links made before this have only their hash: it serves as their id.
  await db.schema.alterTable('invites').addColumn('id', 'text').execute();
  await db.updateTable('invites').set({ id: sql.ref('token_hash') }).execute();
  await db.schema.createIndex('invites_id').unique().on('invites').column('id').execute();
  await db.schema.createIndex('invites_conversation').on('invites').columns(['conversation_id', 'created_at']).execute();
  // A new message un-archives the conversation for members who archived it: find them
  // without reading every member row of a big group on each send.
  await db.schema
    .createIndex('members_archived')
    .on('members')
    .column('conversation_id')
    .where(sql.ref('archived'), '=', 1)
    .execute();
  // The inbox lists pinned conversations first; the pin cap counts them per user.
  await db.schema
    .createIndex('members_pinned')
    .on('members')
    .column('user_id')
    .where(sql.ref('pinned_at'), 'is not', null)
    .execute();
}
