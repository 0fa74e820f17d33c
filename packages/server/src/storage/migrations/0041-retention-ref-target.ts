import type { Kysely } from 'kysely';

// Frozen in time: this file imports no application code and is never edited once released.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // When a message disappears, the edits, reactions and deletes aimed at it go too: find
  // them within its conversation without scanning its history.
  await db.schema
    .createIndex('messages_conversation_ref_target')
    .on('messages')
    .columns(['conversation_id', 'ref_target'])
    .where('ref_target', 'is not', null)
    .execute();
}
