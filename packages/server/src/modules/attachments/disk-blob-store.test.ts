import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobMissingError, BlobTooLargeError } from './blob-store.ts';
import { DiskBlobStore } from './disk-blob-store.ts';

describe('DiskBlobStore', () => {
  let root: string;
  let store: DiskBlobStore;
  const files = () => readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'parley-blobs-'));
    store = new DiskBlobStore(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('stores a stream, hashing it on the way, and reads it back whole or by range', async () => {
    const bytes = randomBytes(300_000);
    const stored = await store.put('0190-abc', Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), bytes.length);
    expect(stored).toEqual({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    expect(files()).toEqual(['0190-abc']);
    const whole = Buffer.concat(await (await store.get('0190-abc')).toArray());
    expect(whole.equals(bytes)).toBe(true);
    const part = Buffer.concat(await (await store.get('0190-abc', { start: 10, end: 19 })).toArray());
    expect(part.equals(bytes.subarray(10, 20))).toBe(true);
  });

  it('refuses past the limit and keeps nothing', async () => {
    await expect(store.put('big', Readable.from([randomBytes(600), randomBytes(600)]), 1000)).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(files()).toEqual([]);
  });

  it('keeps nothing of a source that fails midway', async () => {
    async function* broken() {
      yield Buffer.from('half of it');
      throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    }
    await expect(store.put('broken', Readable.from(broken()), 1000)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(files()).toEqual([]);
  });

  it('deletes idempotently, reports a missing blob, and refuses ids that are not plain', async () => {
    await store.put('gone', Readable.from([Buffer.from('x')]), 10);
    await store.delete('gone');
    await store.delete('gone');
    await expect(store.get('gone')).rejects.toBeInstanceOf(BlobMissingError);
    await expect(store.get('../escape')).rejects.toThrow(/unsafe/);
  });

  it('cleans up temp files left by interrupted writes once they are old', async () => {
    mkdirSync(path.join(root, 'tmp'), { recursive: true });
    const stale = path.join(root, 'tmp', 'stale.part');
    const fresh = path.join(root, 'tmp', 'fresh.part');
    writeFileSync(stale, 'x');
    writeFileSync(fresh, 'y');
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(stale, hourAgo, hourAgo);
    expect(await store.cleanup(3600_000)).toBe(1);
    expect(files()).toEqual(['fresh.part']);
  });
});
