import type { Readable } from 'node:stream';
import type { Attachment, AttachmentUsage, UploadRefusal } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { AppContext, Caller } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { nowIso, uuidv7 } from '../../ids.ts';
import type { DB } from '../../storage/db.ts';
import { BlobMissingError, BlobTooLargeError, type BlobStore, type ByteRange } from './blob-store.ts';
import { findOwned, findReadable, orphanCandidates, readableAmong, unusedAmong, usedBytes, type AttachmentRow } from './queries.ts';

export interface UploadInput {
  source: Readable;
  contentType: string;
  filename: string | null;
  /** Content-Length when the client sent one: lets a hopeless upload be refused before a byte is read. */
  declaredBytes: number | null;
}

/** Temp files of uploads interrupted by a crash are removed once this old. */
const STALE_UPLOAD_MS = 60 * 60 * 1000;
const SWEEP_BATCH = 200;

/** The client went away mid-upload: not the server's fault, and nothing to answer. */
const isInterrupted = (err: unknown) => ['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED'].includes((err as NodeJS.ErrnoException)?.code ?? '');

const tooLarge = (reason: UploadRefusal, limitBytes: number) =>
  new AppError('too_large', reason === 'size' ? `an attachment may have at most ${limitBytes} bytes` : 'this upload would exceed your storage quota', {
    data: { reason, limitBytes },
  });

export function createAttachments(ctx: AppContext, store: BlobStore) {
  const { db, config } = ctx;

  /** Delete blobs whose rows are gone (after the commit that removed them). A failure leaves a stray file, never a dangling row. */
  async function discardBlobs(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      await store.delete(id).catch((err) => ctx.log.warn({ err, attachmentId: id }, 'could not delete a blob'));
    }
  }

  return {
    async upload(caller: Caller, input: UploadInput): Promise<Attachment> {
      const maxBytes = config.attachmentMaxBytes;
      const remaining = Math.max(0, config.attachmentQuotaBytes - (await usedBytes(db, caller.userId)));
      if (input.declaredBytes !== null) {
        if (input.declaredBytes > maxBytes) throw tooLarge('size', maxBytes);
        if (input.declaredBytes > remaining) throw tooLarge('quota', config.attachmentQuotaBytes);
      }
      const limit = Math.min(maxBytes, remaining);
      const id = uuidv7();
      let stored;
      try {
        stored = await store.put(id, input.source, limit);
      } catch (err) {
        if (err instanceof BlobTooLargeError) throw limit === maxBytes ? tooLarge('size', maxBytes) : tooLarge('quota', config.attachmentQuotaBytes);
        if (isInterrupted(err)) throw new AppError('invalid_request', 'the upload was interrupted', { cause: err });
        throw err;
      }

      const admitted = await ctx.database
        .write(async (trx) => {
          // Concurrent uploads of one user each passed the check above: take the user's row
          // lock so their final checks run one after the other.
          await trx.updateTable('users').set((eb) => ({ id: eb.ref('id') })).where('id', '=', caller.userId).execute();
          if ((await usedBytes(trx, caller.userId)) + stored.size > config.attachmentQuotaBytes) return false;
          await trx
            .insertInto('attachments')
            .values({
              id,
              owner_id: caller.userId,
              size: stored.size,
              content_type: input.contentType,
              sha256: stored.sha256,
              created_at: nowIso(),
              referenced_at: null,
              filename: input.filename,
            })
            .execute();
          return true;
        })
        .catch(async (err: unknown) => {
          await discardBlobs([id]);
          throw err;
        });
      if (!admitted) {
        await discardBlobs([id]);
        throw tooLarge('quota', config.attachmentQuotaBytes);
      }
      return { id, size: stored.size, contentType: input.contentType, sha256: stored.sha256 };
    },

    async usage(userId: string): Promise<AttachmentUsage> {
      return { usedBytes: await usedBytes(db, userId), quotaBytes: config.attachmentQuotaBytes, maxUploadBytes: config.attachmentMaxBytes };
    },

    /** The attachment's record, if `userId` may download it; not found otherwise (never a hint that it exists). */
    async readable(userId: string, id: string): Promise<AttachmentRow> {
      const row = await findReadable(db, userId, id, nowIso());
      if (!row) throw new AppError('not_found', 'no such attachment');
      return row;
    },

    /**
     * Of `ids`, those `userId` may read (see `readable`): a message may list them, so
     * forwarding re-references a file instead of uploading it again.
     */
    readableAmong: (userId: string, ids: readonly string[]): Promise<Set<string>> => readableAmong(db, userId, ids, nowIso()),
    /** The bytes of an attachment the caller was allowed to read (see `readable`). */
    async open(row: AttachmentRow, range?: ByteRange): Promise<Readable> {
      try {
        return await store.get(row.id, range);
      } catch (err) {
        if (!(err instanceof BlobMissingError)) throw err;
        ctx.log.error({ attachmentId: row.id }, 'attachment row without its blob');
        throw new AppError('not_found', 'no such attachment');
      }
    },

    /** Delete an upload of one's own that no envelope lists: never sent, or its messages were unsent. */
    async remove(userId: string, id: string): Promise<void> {
      const row = await findOwned(db, userId, id);
      if (!row) throw new AppError('not_found', 'no such attachment');
      const deleted = await ctx.database.write(async (trx) => {
        if ((await unusedAmong(trx, [id])).length === 0) return false;
        const res = await trx.deleteFrom('attachments').where('id', '=', id).where('owner_id', '=', userId).executeTakeFirst();
        return res.numDeletedRows > 0n;
      });
      if (!deleted) throw new AppError('conflict', 'a message lists this attachment; it goes when the message does');
      await discardBlobs([id]);
    },

    /** Delete uploads no envelope listed within `attachmentOrphanAgeMs`, and stale temp files. Returns how many uploads went. */
    async sweepOrphans(now = Date.now()): Promise<number> {
      const cutoff = nowIso(now - config.attachmentOrphanAgeMs);
      let after: { createdAt: string; id: string } | null = null;
      let removed = 0;
      for (;;) {
        const batch = await orphanCandidates(db, cutoff, after, SWEEP_BATCH);
        if (batch.length === 0) break;
        const last = batch[batch.length - 1]!;
        after = { createdAt: last.created_at, id: last.id };
        const gone = await ctx.database.write(async (trx) => {
          const unused = await unusedAmong(
            trx,
            batch.map((b) => b.id),
          );
          if (unused.length === 0) return [];
          const rows = await trx.deleteFrom('attachments').where('id', 'in', unused).where('referenced_at', 'is', null).returning('id').execute();
          return rows.map((r) => r.id);
        });
        await discardBlobs(gone);
        removed += gone.length;
        if (batch.length < SWEEP_BATCH) break;
      }
      if (removed > 0) ctx.log.info({ removed }, 'deleted unreferenced uploads');
      await store.cleanup(STALE_UPLOAD_MS);
      return removed;
    },

    /**
     * For the retention sweeper, inside its transaction: delete the rows of those of `ids`
     * nothing uses any more and return their ids; pass them to `discardBlobs` after commit.
     */
    async deleteUnused(trx: Kysely<DB>, ids: readonly string[]): Promise<string[]> {
      const unused = await unusedAmong(trx, ids);
      if (unused.length > 0) await trx.deleteFrom('attachments').where('id', 'in', unused).execute();
      return unused;
    },

    discardBlobs,
    /**
     * Delete every upload of `ownerId` that nothing uses (account deletion). Those a message
     * or a group's avatar still uses stay: they are the recipients' copies.
     */
    async deleteUnusedOf(ownerId: string): Promise<number> {
      let removed = 0;
      let after = '';
      for (;;) {
        const batch = await db.selectFrom('attachments').select('id').where('owner_id', '=', ownerId).where('id', '>', after).orderBy('id').limit(SWEEP_BATCH).execute();
        if (batch.length === 0) break;
        after = batch[batch.length - 1]!.id;
        const gone = await ctx.database.write(async (trx) => {
          const unused = await unusedAmong(
            trx,
            batch.map((b) => b.id),
          );
          if (unused.length === 0) return [];
          return (await trx.deleteFrom('attachments').where('id', 'in', unused).where('owner_id', '=', ownerId).returning('id').execute()).map((r) => r.id);
        });
        await discardBlobs(gone);
        removed += gone.length;
        if (batch.length < SWEEP_BATCH) break;
      }
      return removed;
    },
  };
}

export type Attachments = ReturnType<typeof createAttachments>;
