import { sql, type Kysely } from 'kysely';

// Frozen in time: this file imports no application code and is never edited once released.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // The name an uploader offered, for downloads' Content-Disposition.
  await db.schema.alterTable('attachments').addColumn('filename', 'text').execute();
  // The orphan sweeper looks only at uploads no envelope has listed yet.
  await db.schema
    .createIndex('attachments_unreferenced')
    .on('attachments')
    .column('created_at')
    .where(sql.ref('referenced_at'), 'is', null)
    .execute();
  // The orphan sweeper and access checks ask whether a group uses an attachment as its avatar.
  await db.schema
    .createIndex('conversations_avatar')
    .on('conversations')
    .column('avatar_attachment_id')
    .where('avatar_attachment_id', 'is not', null)
    .execute();
}
