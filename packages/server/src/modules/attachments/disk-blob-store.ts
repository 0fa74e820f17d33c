import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobMissingError, BlobTooLargeError, type BlobStore, type ByteRange, type StoredBlob } from './blob-store.ts';

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

/** Counts and hashes the bytes going through, and fails the stream past a limit. */
class Measure extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  constructor(private readonly maxBytes: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) return done(new BlobTooLargeError(this.maxBytes));
    this.hash.update(chunk);
    done(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

async function fsyncPath(p: string, flags: string): Promise<void> {
  const fh = await open(p, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Blobs as files under `<root>/<last two characters of the id>/<id>`, so no directory grows
 * past a few thousand entries. Writes land in `<root>/tmp` first and are renamed into place
 * once complete and fsynced: a reader never sees half a file, and a crash leaves only a
 * temp file that `cleanup` removes.
 */
export class DiskBlobStore implements BlobStore {
  private readonly tmpDir: string;

  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
  }

  private pathOf(id: string): string {
    // Ids come from our own database, but a path is built from them: refuse anything odd.
    if (!SAFE_ID.test(id)) throw new Error(`unsafe blob id ${JSON.stringify(id)}`);
    return path.join(this.root, id.slice(-2), id);
  }

  async put(id: string, source: Readable, maxBytes: number): Promise<StoredBlob> {
    const finalPath = this.pathOf(id);
    await mkdir(this.tmpDir, { recursive: true });
    const tmpPath = path.join(this.tmpDir, `${id}.${randomBytes(6).toString('hex')}.part`);
    const measure = new Measure(maxBytes);
    const sink = createWriteStream(tmpPath, { flags: 'wx' });
    try {
      await pipeline(source, measure, sink);
      await fsyncPath(tmpPath, 'r+');
      await mkdir(path.dirname(finalPath), { recursive: true });
      await rename(tmpPath, finalPath);
      await fsyncPath(path.dirname(finalPath), 'r');
    } catch (err) {
      // A pipeline that fails early (the limit, a broken source) may do so before the file
      // is even open: it is created once the open completes, so wait for it to close first.
      if (!sink.closed) await new Promise<void>((resolve) => sink.once('close', () => resolve()));
      await unlink(tmpPath).catch(() => {});
      throw err;
    }
    return { size: measure.size, sha256: measure.digest() };
  }

  async get(id: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(id);
    try {
      await stat(file);
    } catch (err) {
      if (isMissing(err)) throw new BlobMissingError(id);
      throw err;
    }
    return createReadStream(file, range ? { start: range.start, end: range.end } : {});
  }

  async delete(id: string): Promise<void> {
    try {
      await unlink(this.pathOf(id));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  async cleanup(olderThanMs: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch (err) {
      if (isMissing(err)) return 0;
      throw err;
    }
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of names) {
      const file = path.join(this.tmpDir, name);
      try {
        if ((await stat(file)).mtimeMs < cutoff) {
          await unlink(file);
          removed++;
        }
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    }
    return removed;
  }
}

export const _assertDiskBlobStore = (s: DiskBlobStore) => s satisfies BlobStore;
