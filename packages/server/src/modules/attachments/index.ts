import path from 'node:path';
import type { AppContext } from '../../context.ts';
import { createAttachments } from './actions.ts';
import type { BlobStore } from './blob-store.ts';
import { DiskBlobStore } from './disk-blob-store.ts';

export { createAttachments, type Attachments } from './actions.ts';
export { attachmentsRoutes } from './routes.ts';
export { BlobMissingError, BlobTooLargeError, type BlobStore, type ByteRange, type StoredBlob } from './blob-store.ts';
export { DiskBlobStore } from './disk-blob-store.ts';
export { startPeriodic, type Periodic } from './periodic.ts';

/** The blob store the config asks for: files under `<dataDir>/blobs` (object storage can come later). */
export function blobStoreFor(ctx: AppContext): BlobStore {
  return new DiskBlobStore(path.join(ctx.config.dataDir, 'blobs'));
}

/** The attachments module over the configured blob store. */
export function attachmentsModule(ctx: AppContext, store: BlobStore = blobStoreFor(ctx)) {
  return createAttachments(ctx, store);
}
