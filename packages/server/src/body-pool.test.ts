import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from '../test/harness.ts';
import Fastify from 'fastify';
import { bodies, BodyPool, sendJsonPieces } from './body-pool.ts';

describe('BodyPool', () => {
  it('hands out slabs of a power of two of at least 64 KiB, and the same memory again once given back', () => {
    const pool = new BodyPool();
    const a = pool.take(1);
    expect(a.length).toBe(64 * 1024);
    expect(pool.take(64 * 1024 + 1).length).toBe(128 * 1024);
    expect(pool.take(3_000_000).length).toBe(4 * 1024 * 1024);
    pool.give(a);
    expect(pool.freeBytes).toBe(64 * 1024);
    expect(pool.take(10)).toBe(a);
    expect(pool.freeBytes).toBe(0);
    // Another size class does not get it.
    pool.give(a);
    expect(pool.take(100 * 1024)).not.toBe(a);
  });

  it('never hands one slab to two bodies: a slab given back twice, or never taken, is ignored', () => {
    const pool = new BodyPool();
    const a = pool.take(1000);
    pool.give(a);
    pool.give(a);
    expect(pool.freeBytes).toBe(64 * 1024);
    const first = pool.take(1000);
    const second = pool.take(1000);
    expect(first).toBe(a);
    expect(second).not.toBe(a);
    pool.give(Buffer.alloc(64 * 1024));
    expect(pool.freeBytes).toBe(0);
  });

  it('sends pieces as one body from the length its source counted, and whole even when that count was wrong', async () => {
    const pool = new BodyPool();
    const pieces = ['{"messages":[', JSON.stringify('é😀ß'.repeat(10_000)), ']}'];
    const text = pieces.join('');
    const right = Buffer.byteLength(text);
    const app = Fastify();
    let given: number | undefined;
    app.get('/:mode', (req, reply) => {
      const mode = (req.params as { mode: string }).mode;
      given = mode === 'right' ? right : mode === 'short' ? right - 7 : mode === 'long' ? right + 9 : undefined;
      return sendJsonPieces(reply, pieces, given, pool);
    });
    try {
      for (const mode of ['right', 'short', 'long', 'uncounted']) {
        const res = await app.inject({ method: 'GET', url: `/${mode}` });
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(Number(res.headers['content-length'])).toBe(right);
        expect(res.rawPayload.equals(Buffer.from(text))).toBe(true);
      }
      // The slabs came back: the body's, and those of the miscounted ones at once.
      expect(pool.freeBytes).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });

  it('keeps at most retainBytes of free slabs, and never pools a body beyond the largest slab', () => {
    const pool = new BodyPool(256 * 1024);
    const slabs = [pool.take(1), pool.take(1), pool.take(1), pool.take(1), pool.take(1)];
    for (const s of slabs) pool.give(s);
    expect(pool.freeBytes).toBe(256 * 1024);
    const huge = pool.take(17 * 1024 * 1024);
    expect(huge.length).toBe(17 * 1024 * 1024);
    pool.give(huge);
    expect(pool.freeBytes).toBe(256 * 1024);
  });
});

/**
 * The property that makes reusing response memory safe: a slab is reused only after its
 * response has been handed to the operating system. A reader that stops reading keeps the
 * server's response pending; bodies of other users sent meanwhile (from slabs of the same
 * size) must not reach it.
 */
for (const dialect of DIALECTS) {
  describe(`history bodies from reused memory [${dialect}]`, () => {
    let t: TestServer;
    const users: Record<string, { id: string; token: string; group: string }> = {};
    // 200 envelopes of ~60 KB each: a ~12 MB body, more than the loopback socket buffers
    // hold while the reader does not read, so the response stays pending in the server.
    const COUNT = 200;
    const textOf = (letter: string) => letter.repeat(60_000);
    const SLAB = 16 * 1024 * 1024;

    beforeAll(async () => {
      t = await startTestServer(dialect, { sendsPerMinute: 10_000 });
      for (const letter of ['a', 'b']) {
        const u = await t.api.signUp(`pool${letter}`);
        const created = await t.api.post('/v1/conversations', { type: 'group', title: `notes ${letter}`, memberIds: [] }, u.token);
        expect(created.status).toBe(201);
        users[letter] = { id: u.id, token: u.token, group: created.body.id };
        const content = { encoding: 'plain', data: JSON.stringify({ type: 'text', text: textOf(letter) }) };
        for (let i = 0; i < COUNT; i += 20) await Promise.all(Array.from({ length: 20 }, () => t.api.send(u, created.body.id, content)));
      }
    }, 120_000);
    afterAll(() => t?.close());

    /** A raw HTTP/1.1 GET whose answer stops being read after its first bytes, until `resume`. */
    const pausedGet = (path: string, token: string) => {
      const { hostname, port } = new URL(t.url);
      const socket: Socket = connect(Number(port), hostname);
      socket.write(`GET ${path} HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${token}\r\nconnection: close\r\n\r\n`);
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        socket.pause();
      });
      const ended = new Promise<Buffer>((resolve, reject) => {
        socket.on('end', () => resolve(Buffer.concat(chunks)));
        socket.on('error', reject);
      });
      return {
        socket,
        /** The server has answered: its first bytes arrived. */
        started: () => chunks.length > 0,
        resume: () => {
          socket.removeAllListeners('data');
          socket.on('data', (c: Buffer) => chunks.push(c));
          socket.resume();
          return ended;
        },
      };
    };

    const texts = (body: string): string[] => (JSON.parse(body) as { messages: { content: { data: string } }[] }).messages.map((m) => (JSON.parse(m.content.data) as { text: string }).text);

    it('a body still on its way is never overwritten by the next bodies of the same size', async () => {
      const a = users.a!;
      const b = users.b!;
      const pending = pausedGet(`/v1/conversations/${a.group}/messages?limit=200`, a.token);
      // The server has answered (the first bytes arrived) and cannot hand the rest over yet.
      await expect.poll(pending.started, { timeout: 10_000 }).toBe(true);
      for (let i = 0; i < 3; i++) {
        const res = await t.api.get(`/v1/conversations/${b.group}/messages?limit=200`, b.token);
        expect(res.status).toBe(200);
        expect(res.body.messages).toHaveLength(COUNT);
        for (const m of res.body.messages) expect(JSON.parse(m.content.data).text).toBe(textOf('b'));
      }
      // b's bodies went back to the pool as each finished (a slab of 16 MiB); a's is still out.
      await expect.poll(() => bodies.freeBytes).toBeGreaterThanOrEqual(SLAB);
      const raw = (await pending.resume()).toString('utf8');
      const [head, body] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n') + 4)];
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(Number(/content-length: (\d+)/i.exec(head)?.[1])).toBe(Buffer.byteLength(body));
      const got = texts(body);
      expect(got).toHaveLength(COUNT);
      for (const text of got) expect(text).toBe(textOf('a'));
      // Two slabs were in play, a's and the one b's bodies took in turn; both are back.
      await expect.poll(() => bodies.freeBytes).toBeGreaterThanOrEqual(2 * SLAB);
    }, 60_000);

    it('a body with characters beyond ASCII is encoded, sized and sent whole, alone and in a batch', async () => {
      const u = await t.api.signUp('poolu');
      const created = await t.api.post('/v1/conversations', { type: 'group', title: 'notes é', memberIds: [] }, u.token);
      const text = 'é😀\u2028ß'.repeat(5000);
      for (let i = 0; i < 10; i++) await t.api.send(u, created.body.id, { encoding: 'plain', data: JSON.stringify({ type: 'text', text }) });
      const single = await fetch(`${t.url}/v1/conversations/${created.body.id}/messages?limit=200`, { headers: { authorization: `Bearer ${u.token}` } });
      const singleBytes = Buffer.from(await single.arrayBuffer());
      expect(single.headers.get('content-type')).toMatch(/^application\/json/);
      expect(Number(single.headers.get('content-length'))).toBe(singleBytes.length);
      expect(texts(singleBytes.toString('utf8'))).toEqual(Array(10).fill(text));
      const batch = await t.api.post('/v1/sync/messages', { conversations: [{ conversationId: created.body.id, after: 0 }, { conversationId: users.a!.group, after: 0 }], limit: 200 }, u.token);
      expect(batch.status).toBe(200);
      expect(batch.body.pages[0].messages.map((m: { content: { data: string } }) => JSON.parse(m.content.data).text)).toEqual(Array(10).fill(text));
      expect(batch.body.pages[1].error.code).toBe('not_found');
    }, 60_000);

    it('a reader that goes away mid-body costs its slab, not the server: the next bodies are whole', async () => {
      const a = users.a!;
      const pending = pausedGet(`/v1/conversations/${a.group}/messages?limit=200`, a.token);
      await expect.poll(pending.started, { timeout: 10_000 }).toBe(true);
      pending.socket.destroy();
      for (const u of [users.a!, users.b!]) {
        const res = await t.api.post('/v1/sync/messages', { conversations: [{ conversationId: u.group, after: 0 }], limit: 200 }, u.token);
        expect(res.status).toBe(200);
        expect(res.body.pages[0].messages).toHaveLength(COUNT);
        const letter = u === users.a ? 'a' : 'b';
        for (const m of res.body.pages[0].messages) expect(JSON.parse(m.content.data).text).toBe(textOf(letter));
      }
    }, 60_000);
  });
}
