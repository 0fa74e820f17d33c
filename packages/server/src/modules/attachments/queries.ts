import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { DB } from '../../storage/db.ts';
import type { AttachmentsTable } from '../../storage/schema.ts';

export type AttachmentRow = AttachmentsTable;

/** Bytes a user stores. PostgreSQL sums a bigint column into a string, hence Number(). */
export async function usedBytes(db: Kysely<DB>, ownerId: string): Promise<number> {
  const row = await db
    .selectFrom('attachments')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('size'), sql<number>`0`).as('used'))
    .where('owner_id', '=', ownerId)
    .executeTakeFirstOrThrow();
  return Number(row.used);
}

const toRow = (r: AttachmentRow): AttachmentRow => ({ ...r, size: Number(r.size) });

/**
 * The attachment, if `userId` may download it: its uploader; an active member of a
 * conversation with an envelope that lists it, which the member may read (sent since they
 * joined) and which is neither unsent nor expired; or a member of a group that shows it as
 * its avatar (also while deciding on a request to join). A member who left has no row in
 * `members`, so they lose access with everyone else who was never there.
 */
export async function findReadable(db: Kysely<DB>, userId: string, id: string, nowIso: string): Promise<AttachmentRow | undefined> {
  const row = await db
    .selectFrom('attachments as a')
    .selectAll('a')
    .where('a.id', '=', id)
    .where((eb) => readableBy(eb, userId, nowIso))
    .executeTakeFirst();
  return row ? toRow(row) : undefined;
}

/**
 * Of `ids`, those `userId` may read by the same rule as `findReadable`: what a forwarder may
 * list in a message of their own (the bytes are not copied; the new envelope lists them too).
 */
export async function readableAmong(db: Kysely<DB>, userId: string, ids: readonly string[], nowIso: string): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom('attachments as a')
    .select('a.id')
    .where('a.id', 'in', [...ids])
    .where((eb) => readableBy(eb, userId, nowIso))
    .execute();
  return new Set(rows.map((r) => r.id));
}

function readableBy(eb: ExpressionBuilder<DB & { a: AttachmentsTable }, 'a'>, userId: string, nowIso: string) {
  return eb.or([
    eb('a.owner_id', '=', userId),
    eb.exists(
      eb
        .selectFrom('attachment_refs as r')
        .innerJoin('messages as m', (j) => j.onRef('m.id', '=', 'r.message_id').onRef('m.conversation_id', '=', 'r.conversation_id'))
        .innerJoin('members as mb', 'mb.conversation_id', 'r.conversation_id')
        .select(sql.lit(1).as('one'))
        .whereRef('r.attachment_id', '=', 'a.id')
        .where('mb.user_id', '=', userId)
        .where('mb.state', '=', 'active')
        .whereRef('m.seq', '>=', 'mb.joined_seq')
        .where('m.deleted_at', 'is', null)
        .where((e) => e.or([e('m.expires_at', 'is', null), e('m.expires_at', '>', nowIso)])),
    ),
    eb.exists(
      eb
        .selectFrom('conversations as c')
        .innerJoin('members as mb', 'mb.conversation_id', 'c.id')
        .select(sql.lit(1).as('one'))
        .whereRef('c.avatar_attachment_id', '=', 'a.id')
        .where('mb.user_id', '=', userId)
        .where('mb.state', 'in', ['active', 'request']),
    ),
  ]);
}

export async function findOwned(db: Kysely<DB>, ownerId: string, id: string): Promise<AttachmentRow | undefined> {
  const row = await db.selectFrom('attachments').selectAll().where('id', '=', id).where('owner_id', '=', ownerId).executeTakeFirst();
  return row ? toRow(row) : undefined;
}

/**
 * Of `ids`, those nothing uses any more: no envelope lists them and no group shows them as
 * its avatar. The one definition of "unused" for deletes, orphan sweeps and retention.
 */
export async function unusedAmong(db: Kysely<DB>, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  // One after the other: inside a transaction both run on the same connection.
  const refs = await db.selectFrom('attachment_refs').select('attachment_id').distinct().where('attachment_id', 'in', ids).execute();
  const avatars = await db.selectFrom('conversations').select('avatar_attachment_id').where('avatar_attachment_id', 'in', ids).execute();
  const used = new Set<string | null>([...refs.map((r) => r.attachment_id), ...avatars.map((a) => a.avatar_attachment_id)]);
  return [...new Set(ids)].filter((id) => !used.has(id));
}

/** Uploads never referenced and created before `cutoff`, oldest first, after a keyset position. */
export async function orphanCandidates(
  db: Kysely<DB>,
  cutoffIso: string,
  after: { createdAt: string; id: string } | null,
  limit: number,
): Promise<{ id: string; created_at: string }[]> {
  let q = db
    .selectFrom('attachments')
    .select(['id', 'created_at'])
    .where('referenced_at', 'is', null)
    .where('created_at', '<', cutoffIso);
  if (after) {
    q = q.where((eb) => eb.or([eb('created_at', '>', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)])]));
  }
  return q.orderBy('created_at').orderBy('id').limit(limit).execute();
}
