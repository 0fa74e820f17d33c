import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';

const MB = 1024 * 1024;

/** `size` random bytes as a stream of 64 KiB chunks, and their SHA-256 once it has ended. */
function randomSource(size: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  async function* chunks() {
    for (let sent = 0; sent < size; ) {
      const chunk = randomBytes(Math.min(64 * 1024, size - sent));
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
    }
  }
  let digest: string | undefined;
  return { stream: Readable.from(chunks()), sha256: () => (digest ??= hash.digest('hex')) };
}

interface UploadReply {
  status: number;
  body: any;
  headers: http.IncomingHttpHeaders;
}

/**
 * Upload over a raw HTTP request, streamed (chunked unless `contentLength` is given), the
 * way a client sends a large file. Reads the answer even when the server hangs up early.
 */
function upload(t: TestServer, token: string, source: Readable | Buffer, options: { contentType?: string | null; contentLength?: number; query?: string } = {}): Promise<UploadReply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    const contentType = options.contentType === undefined ? 'application/octet-stream' : options.contentType;
    if (contentType !== null) headers['content-type'] = contentType;
    if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
    else if (Buffer.isBuffer(source)) headers['content-length'] = String(source.length);
    const req = http.request(`${t.url}/v1/attachments${options.query ?? ''}`, { method: 'POST', headers });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, headers: res.headers });
      });
      res.on('error', reject);
    });
    // The server may answer and close before the whole body is sent: that is the point.
    req.on('error', (err) => {
      if (!req.writableEnded) return;
      reject(err);
    });
    if (Buffer.isBuffer(source)) req.end(source);
    else {
      source.on('error', () => {});
      source.pipe(req);
    }
  });
}

async function download(t: TestServer, token: string, id: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}/v1/attachments/${id}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body, headers: res.headers, json: () => JSON.parse(body.toString('utf8')) };
}

/** Every file under the blob store: blobs and temp files alike. */
function blobFiles(t: TestServer): string[] {
  const root = path.join(t.config.dataDir, 'blobs');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

type User = Awaited<ReturnType<TestServer['api']['signUp']>>;

let clientIds = 0;

/** A group of `owner` and `members`, through the API. */
async function group(t: TestServer, owner: User, members: User[]): Promise<string> {
  for (const m of members) await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, m.token);
  const res = await t.api.post('/v1/conversations', { type: 'group', title: 'files', memberIds: members.map((m) => m.id) }, owner.token);
  expect(res.status).toBe(201);
  expect(res.body.notAdded).toEqual([]);
  return res.body.id;
}

/** Send a message listing `attachmentIds`, as a client does after uploading them. */
async function sendWith(t: TestServer, sender: User, conversationId: string, attachmentIds: string[]): Promise<string> {
  const res = await t.api.post(
    `/v1/conversations/${conversationId}/messages`,
    { clientId: `att-${clientIds++}`, kind: 'message', content: { encoding: 'plain', data: '{"type":"text","text":"a file"}' }, attachmentIds },
    sender.token,
  );
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

for (const dialect of DIALECTS) {
  describe(`attachments [${dialect}]`, () => {
    let t: TestServer;
    let tight: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect, { attachmentSweepIntervalMs: 50 });
      tight = await startTestServer(dialect, { attachmentMaxBytes: MB, attachmentQuotaBytes: 2.5 * MB });
    });
    afterAll(async () => {
      await t?.close();
      await tight?.close();
    });

    it('streams a 20 MB upload to disk and back, byte for byte, with its sha256', async () => {
      const u = await t.api.signUp('up');
      const src = randomSource(20 * MB);
      const res = await upload(t, u.token, src.stream);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ id: expect.any(String), size: 20 * MB, contentType: 'application/octet-stream', sha256: src.sha256() });

      const res2 = await fetch(`${t.url}/v1/attachments/${res.body.id}`, { headers: { authorization: `Bearer ${u.token}` } });
      expect(res2.status).toBe(200);
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of res2.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.length;
      }
      expect(size).toBe(20 * MB);
      expect(hash.digest('hex')).toBe(src.sha256());
      expect(res2.headers.get('content-type')).toBe('application/octet-stream');
      expect(res2.headers.get('content-length')).toBe(String(20 * MB));
      expect(res2.headers.get('etag')).toBe(`"${src.sha256()}"`);
      expect(res2.headers.get('accept-ranges')).toBe('bytes');
      expect(res2.headers.get('content-disposition')).toBe('attachment');
      expect(res2.headers.get('x-content-type-options')).toBe('nosniff');
      expect(blobFiles(t).some((f) => f.endsWith(res.body.id))).toBe(true);
    });

    it('serves byte ranges (206), refuses ranges past the end (416) and revalidates by ETag (304)', async () => {
      const u = await t.api.signUp('range');
      const bytes = randomBytes(10_000);
      const up = await upload(t, u.token, bytes);
      expect(up.status).toBe(201);
      const id = up.body.id;

      const first = await download(t, u.token, id, { range: 'bytes=0-99' });
      expect(first.status).toBe(206);
      expect(first.headers.get('content-range')).toBe('bytes 0-99/10000');
      expect(first.headers.get('content-length')).toBe('100');
      expect(first.body.equals(bytes.subarray(0, 100))).toBe(true);

      const middle = await download(t, u.token, id, { range: 'bytes=5000-5009' });
      expect(middle.status).toBe(206);
      expect(middle.body.equals(bytes.subarray(5000, 5010))).toBe(true);

      const tail = await download(t, u.token, id, { range: 'bytes=-10' });
      expect(tail.status).toBe(206);
      expect(tail.headers.get('content-range')).toBe('bytes 9990-9999/10000');
      expect(tail.body.equals(bytes.subarray(9990))).toBe(true);

      const open = await download(t, u.token, id, { range: 'bytes=9000-' });
      expect(open.status).toBe(206);
      expect(open.body.equals(bytes.subarray(9000))).toBe(true);

      const clipped = await download(t, u.token, id, { range: 'bytes=9990-20000' });
      expect(clipped.status).toBe(206);
      expect(clipped.headers.get('content-range')).toBe('bytes 9990-9999/10000');

      const past = await download(t, u.token, id, { range: 'bytes=10000-' });
      expect(past.status).toBe(416);
      expect(past.headers.get('content-range')).toBe('bytes */10000');
      expect(past.json().error.code).toBe('range_not_satisfiable');

      // Several ranges, or one we cannot read: the whole file, which RFC 9110 allows.
      for (const range of ['bytes=0-1,5-6', 'lines=1-2', 'bytes=9-2']) {
        const whole = await download(t, u.token, id, { range });
        expect(whole.status, range).toBe(200);
        expect(whole.body.equals(bytes)).toBe(true);
      }

      const head = await fetch(`${t.url}/v1/attachments/${id}`, { method: 'HEAD', headers: { authorization: `Bearer ${u.token}` } });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('10000');
      expect(head.headers.get('accept-ranges')).toBe('bytes');

      const etag = first.headers.get('etag')!;
      const cached = await download(t, u.token, id, { 'if-none-match': etag });
      expect(cached.status).toBe(304);
      expect(cached.body.length).toBe(0);
      // A stale If-Range gets the whole, current file instead of a piece of it.
      const stale = await download(t, u.token, id, { range: 'bytes=0-9', 'if-range': '"something-else"' });
      expect(stale.status).toBe(200);
      expect(stale.body.length).toBe(10_000);
    });

    it('keeps the uploaded type; only images, audio and video are served inline; the filename is offered', async () => {
      const u = await t.api.signUp('types');
      const png = await upload(t, u.token, Buffer.from('not really a png'), { contentType: 'IMAGE/PNG', query: '?filename=' + encodeURIComponent('café photo.png') });
      expect(png.status).toBe(201);
      expect(png.body.contentType).toBe('image/png');
      const got = await download(t, u.token, png.body.id);
      expect(got.headers.get('content-type')).toBe('image/png');
      expect(got.headers.get('content-disposition')).toBe(`inline; filename="caf_ photo.png"; filename*=UTF-8''caf%C3%A9%20photo.png`);

      const html = await upload(t, u.token, Buffer.from('<script>alert(1)</script>'), { contentType: 'text/html; charset=utf-8' });
      const page = await download(t, u.token, html.body.id);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-disposition')).toBe('attachment');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');

      const svg = await upload(t, u.token, Buffer.from('<svg/>'), { contentType: 'image/svg+xml' });
      expect((await download(t, u.token, svg.body.id)).headers.get('content-disposition')).toBe('attachment');

      // JSON is stored as bytes like anything else, not parsed.
      const json = await upload(t, u.token, Buffer.from('{"a": 1'), { contentType: 'application/json' });
      expect(json.status).toBe(201);
      expect((await download(t, u.token, json.body.id)).body.toString()).toBe('{"a": 1');

      const untyped = await upload(t, u.token, Buffer.from('x'), { contentType: null });
      expect(untyped.status).toBe(201);
      expect(untyped.body.contentType).toBe('application/octet-stream');

      const empty = await upload(t, u.token, Buffer.alloc(0));
      expect(empty.status).toBe(201);
      expect(empty.body).toMatchObject({ size: 0, sha256: createHash('sha256').digest('hex') });
      expect((await download(t, u.token, empty.body.id)).body.length).toBe(0);
    });

    it('refuses bad input with a stable 4xx code', async () => {
      const u = await t.api.signUp('bad');
      for (const contentType of ['not a media type', 'text/plain; charset', 'a/b/c', 'image/' + 'x'.repeat(300)]) {
        const badType = await upload(t, u.token, Buffer.from('x'), { contentType });
        expect(badType.status, contentType).toBe(415);
        expect(badType.body.error.code).toBe('unsupported_media_type');
      }
      const badName = await upload(t, u.token, Buffer.from('x'), { query: '?filename=' + encodeURIComponent('../etc/passwd') });
      expect(badName.status).toBe(400);
      expect(badName.body.error.data.field).toMatch(/filename/);
      const anonymous = await fetch(`${t.url}/v1/attachments`, { method: 'POST', body: 'x' });
      expect(anonymous.status).toBe(401);
      const badId = await download(t, u.token, 'no$such$id');
      expect(badId.status).toBe(400);
      const unknown = await download(t, u.token, '0190aaaa-0000-7000-8000-000000000000');
      expect(unknown.status).toBe(404);
      expect(unknown.json().error.code).toBe('not_found');
    });

    it('refuses an upload past the size limit with 413 and keeps nothing of it', async () => {
      const u = await tight.api.signUp('big');
      const before = blobFiles(tight);
      // Streamed without a length: refused mid-stream once it passes the limit.
      const streamed = await upload(tight, u.token, randomSource(MB + 1).stream);
      expect(streamed.status).toBe(413);
      expect(streamed.body.error).toMatchObject({ code: 'too_large', data: { reason: 'size', limitBytes: MB } });
      // Announced by Content-Length: refused before a byte is read.
      const announced = await upload(tight, u.token, randomSource(2 * MB).stream, { contentLength: 2 * MB });
      expect(announced.status).toBe(413);
      expect(announced.body.error.data.reason).toBe('size');
      expect(blobFiles(tight)).toEqual(before);
      expect((await tight.api.get('/v1/attachments/usage', u.token)).body).toEqual({ usedBytes: 0, quotaBytes: 2.5 * MB, maxUploadBytes: MB });
      // Exactly at the limit is fine.
      const exact = await upload(tight, u.token, randomSource(MB).stream);
      expect(exact.status).toBe(201);
      expect(blobFiles(tight)).toHaveLength(before.length + 1);
    });

    it('admits concurrent uploads only as far as the quota goes', async () => {
      const u = await tight.api.signUp('race');
      // Each fits on its own; together they pass the 2.5 MB quota.
      const results = await Promise.all([0, 1, 2].map(() => upload(tight, u.token, randomSource(MB).stream)));
      expect(results.map((r) => r.status).sort()).toEqual([201, 201, 413]);
      expect(results.find((r) => r.status === 413)!.body.error.data.reason).toBe('quota');
      expect((await tight.api.get('/v1/attachments/usage', u.token)).body.usedBytes).toBe(2 * MB);
      const rows = await tight.server.ctx.db.selectFrom('attachments').select('id').where('owner_id', '=', u.id).execute();
      for (const r of rows) expect(blobFiles(tight).some((f) => f.endsWith(r.id))).toBe(true);
    });

    it('keeps nothing of an upload the client abandons midway', async () => {
      const u = await tight.api.signUp('abandon');
      const before = blobFiles(tight);
      await new Promise<void>((resolve) => {
        const req = http.request(`${tight.url}/v1/attachments`, { method: 'POST', headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/octet-stream', 'content-length': String(MB) } });
        req.on('error', () => resolve());
        req.write(randomBytes(64 * 1024), () => setTimeout(() => req.destroy(), 100));
      });
      const deadline = Date.now() + 10_000;
      while (blobFiles(tight).length !== before.length) {
        if (Date.now() > deadline) throw new Error(`left behind: ${blobFiles(tight).filter((f) => !before.includes(f))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await tight.api.get('/v1/attachments/usage', u.token)).body.usedBytes).toBe(0);
      // The server is fine and the user may try again.
      expect((await upload(tight, u.token, randomSource(1000).stream)).status).toBe(201);
    });

    it('holds each user to their quota (413, reason quota), and deleting frees it', async () => {
      const u = await tight.api.signUp('quota');
      const other = await tight.api.signUp('quota');
      const a = await upload(tight, u.token, randomSource(MB).stream);
      const b = await upload(tight, u.token, randomSource(MB).stream);
      expect([a.status, b.status]).toEqual([201, 201]);
      const before = blobFiles(tight);

      const over = await upload(tight, u.token, randomSource(MB).stream);
      expect(over.status).toBe(413);
      expect(over.body.error).toMatchObject({ code: 'too_large', data: { reason: 'quota' } });
      const overAnnounced = await upload(tight, u.token, randomSource(MB).stream, { contentLength: MB });
      expect(overAnnounced.status).toBe(413);
      expect(overAnnounced.body.error.data.reason).toBe('quota');
      expect(blobFiles(tight)).toEqual(before);
      expect((await tight.api.get('/v1/attachments/usage', u.token)).body.usedBytes).toBe(2 * MB);

      // Someone else's quota is their own.
      expect((await upload(tight, other.token, randomSource(MB).stream)).status).toBe(201);

      // Half a megabyte is still free.
      expect((await upload(tight, u.token, randomSource(MB / 2).stream)).status).toBe(201);
      expect((await tight.api.delete(`/v1/attachments/${a.body.id}`, u.token)).status).toBe(204);
      expect((await upload(tight, u.token, randomSource(MB).stream)).status).toBe(201);
    });

    it('serves an attachment only to its uploader and to members of a conversation that lists it', async () => {
      const owner = await t.api.signUp('owner');
      const member = await t.api.signUp('member');
      const stranger = await t.api.signUp('stranger');
      const leaver = await t.api.signUp('leaver');
      const latecomer = await t.api.signUp('late');
      const up = await upload(t, owner.token, Buffer.from('secret photo'), { contentType: 'image/jpeg' });
      const id = up.body.id;

      // Before any message lists it, only the uploader may fetch it.
      expect((await download(t, owner.token, id)).status).toBe(200);
      expect((await download(t, member.token, id)).status).toBe(404);

      const c = await group(t, owner, [member, leaver]);
      await sendWith(t, owner, c, [id]);
      const seen = await download(t, member.token, id);
      expect(seen.status).toBe(200);
      expect(seen.body.toString()).toBe('secret photo');
      expect(seen.headers.get('content-type')).toBe('image/jpeg');
      expect((await download(t, leaver.token, id)).status).toBe(200);

      const refused = await download(t, stranger.token, id);
      expect(refused.status).toBe(404);
      expect(refused.json().error.code).toBe('not_found');
      // Nobody may list someone else's upload in a message of their own.
      const other = await group(t, stranger, []);
      const hijack = await t.api.post(`/v1/conversations/${other}/messages`, { clientId: `att-${clientIds++}`, kind: 'message', content: { encoding: 'plain', data: '{}' }, attachmentIds: [id] }, stranger.token);
      expect(hijack.status).toBe(400);
      expect((await download(t, stranger.token, id)).status).toBe(404);

      // History from before one joined is not theirs, nor are its files.
      await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, latecomer.token);
      expect((await t.api.post(`/v1/conversations/${c}/members`, { userIds: [latecomer.id] }, owner.token)).status).toBe(200);
      expect((await download(t, latecomer.token, id)).status).toBe(404);

      // Leaving ends access.
      expect((await t.api.delete(`/v1/conversations/${c}/members/${leaver.id}`, leaver.token)).status).toBe(204);
      expect((await download(t, leaver.token, id)).status).toBe(404);
      expect((await download(t, leaver.token, id, { range: 'bytes=0-1' })).status).toBe(404);
      expect((await download(t, member.token, id)).status).toBe(200);

      // Only the uploader may delete, and not once a message lists it.
      expect((await t.api.delete(`/v1/attachments/${id}`, member.token)).status).toBe(404);
      const del = await t.api.delete(`/v1/attachments/${id}`, owner.token);
      expect(del.status).toBe(409);
      expect(del.body.error.code).toBe('conflict');
      expect((await download(t, member.token, id)).status).toBe(200);
    });

    it('unsending a message deletes its files (row and bytes) once nothing else lists them', async () => {
      const owner = await t.api.signUp('unsend');
      const member = await t.api.signUp('unsend');
      const up = await upload(t, owner.token, Buffer.from('regret'));
      const c = await group(t, owner, [member]);
      const messageId = await sendWith(t, owner, c, [up.body.id]);
      expect((await download(t, member.token, up.body.id)).status).toBe(200);
      expect((await t.api.delete(`/v1/conversations/${c}/messages/${messageId}`, owner.token)).status).toBe(204);
      expect((await download(t, member.token, up.body.id)).status).toBe(404);
      // No message lists it any more: it went with the message, row and file, which frees the quota.
      expect((await download(t, owner.token, up.body.id)).status).toBe(404);
      expect(await t.server.ctx.db.selectFrom('attachments').select('id').where('id', '=', up.body.id).executeTakeFirst()).toBeUndefined();
      expect(blobFiles(t).some((f) => f.endsWith(up.body.id))).toBe(false);
      expect((await t.api.delete(`/v1/attachments/${up.body.id}`, owner.token)).status).toBe(404);
    });

    it('deletes an unreferenced upload on request: the row and the file', async () => {
      const u = await t.api.signUp('del');
      const up = await upload(t, u.token, Buffer.from('draft'));
      expect(blobFiles(t).some((f) => f.endsWith(up.body.id))).toBe(true);
      expect((await t.api.delete(`/v1/attachments/${up.body.id}`, u.token)).status).toBe(204);
      expect((await download(t, u.token, up.body.id)).status).toBe(404);
      expect(blobFiles(t).some((f) => f.endsWith(up.body.id))).toBe(false);
      expect((await t.api.delete(`/v1/attachments/${up.body.id}`, u.token)).status).toBe(404);
    });

    it('sweeps orphans: an upload no envelope listed within a day is deleted, a listed one stays', async () => {
      const u = await t.api.signUp('orphan');
      const peer = await t.api.signUp('peer');
      const orphan = await upload(t, u.token, Buffer.from('forgotten'));
      const kept = await upload(t, u.token, Buffer.from('sent'));
      const fresh = await upload(t, u.token, Buffer.from('just now'));
      await sendWith(t, u, await group(t, u, [peer]), [kept.body.id]);
      // A day and a bit ago, as far as the database knows.
      const dayAgo = new Date(Date.now() - 25 * 3600 * 1000).toISOString();
      await t.server.ctx.db.updateTable('attachments').set({ created_at: dayAgo }).where('id', 'in', [orphan.body.id, kept.body.id]).execute();

      const deadline = Date.now() + 10_000;
      while ((await download(t, u.token, orphan.body.id)).status !== 404) {
        if (Date.now() > deadline) throw new Error('the orphan was never swept');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await t.server.ctx.db.selectFrom('attachments').select('id').where('id', '=', orphan.body.id).executeTakeFirst()).toBeUndefined();
      // The row goes first (then downloads answer 404), the file right after it.
      await expect.poll(() => blobFiles(t).some((f) => f.endsWith(orphan.body.id)), { timeout: 5000 }).toBe(false);
      expect((await download(t, u.token, kept.body.id)).status).toBe(200);
      expect((await download(t, peer.token, kept.body.id)).status).toBe(200);
      expect((await download(t, u.token, fresh.body.id)).status).toBe(200);
    });

    it('documents its routes in the OpenAPI reference', async () => {
      const doc = (await t.api.get('/v1/openapi.json')).body;
      for (const [p, method] of [['/v1/attachments', 'post'], ['/v1/attachments/{id}', 'get'], ['/v1/attachments/{id}', 'delete'], ['/v1/attachments/usage', 'get']] as const) {
        expect(doc.paths[p]?.[method]?.tags, `${method} ${p}`).toContain('attachments');
      }
    });
  });
}
