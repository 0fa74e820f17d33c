import type { Readable } from 'node:stream';

/** What a completed write stored. */
export interface StoredBlob {
  size: number;
  /** Hex SHA-256 of the bytes, computed while they streamed in. */
  sha256: string;
}

/** An inclusive byte range, as HTTP ranges are. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The source carried more than the writer allowed; nothing of it was kept. */
export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`blob exceeds ${limit} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

/** The store has no blob under that id (deleted, or lost outside the server's control). */
export class BlobMissingError extends Error {
  constructor(readonly id: string) {
    super(`no blob ${id}`);
    this.name = 'BlobMissingError';
  }
}

/**
 * Where attachment bytes live. The database holds what the server knows about them; the
 * store only holds bytes by id, so object storage can replace the disk without touching
 * the module. Writes stream: a store never holds a whole blob in memory.
 */
export interface BlobStore {
  /**
   * Stream `source` into the store under `id`, durably. Past `maxBytes` it rejects with
   * `BlobTooLargeError`; on any failure nothing of the write remains.
   */
  put(id: string, source: Readable, maxBytes: number): Promise<StoredBlob>;
  /** The blob's bytes, or only `range` of them. Rejects with `BlobMissingError`. */
  get(id: string, range?: ByteRange): Promise<Readable>;
  /** Remove a blob; removing a missing one is not an error. */
  delete(id: string): Promise<void>;
  /** Remove what interrupted writes left behind more than `olderThanMs` ago; returns how many. */
  cleanup(olderThanMs: number): Promise<number>;
}
