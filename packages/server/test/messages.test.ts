import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import type { DomainEvent } from '../src/bus/events.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

const text = (t: string) => ({ encoding: 'plain', data: JSON.stringify({ type: 'text', text: t }) });
let n = 0;
const cid = () => `c-${Date.now().toString(36)}-${n++}`;

for (const dialect of DIALECTS) {
  describe(`messages [${dialect}]`, () => {
    let t: TestServer;
    const events: DomainEvent[] = [];
    beforeAll(async () => {
      t = await startTestServer(dialect);
      // Observe the domain events the modules announce, whatever the bus routing does with them.
      const emit = t.server.ctx.emit;
      t.server.ctx.emit = (e) => {
        events.push(e);
        emit(e);
      };
    });
    afterAll(async () => t?.close());

    async function connect(a: U, b: U) {
      expect((await t.api.post(`/v1/connections/${b.id}`, {}, a.token)).status).toBeLessThan(300);
      expect((await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token)).status).toBeLessThan(300);
    }
    async function pair(): Promise<{ a: U; b: U; conv: string }> {
      const a = await t.api.signUp('ma');
      const b = await t.api.signUp('mb');
      await connect(a, b);
      const res = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
      expect(res.status).toBe(201);
      return { a, b, conv: res.body.id };
    }
    const send = (u: U, conv: string, body: Record<string, unknown> = {}) =>
      t.api.post(`/v1/conversations/${conv}/messages`, { clientId: cid(), kind: 'message', content: text('hi'), ...body }, u.token);
    const hist = async (u: U, conv: string, q = '') => {
      const res = await t.api.get(`/v1/conversations/${conv}/messages${q}`, u.token);
      expect(res.status).toBe(200);
      return res.body.messages as any[];
    };

    it('sends, acks with id, seq and createdAt, and reads history in seq order', async () => {
      const { a, b, conv } = await pair();
      const first = await send(a, conv, { content: text('one') });
      expect(first.status).toBe(201);
      expect(first.body).toEqual({ id: expect.any(String), seq: 1, createdAt: expect.any(String) });
      const second = await send(b, conv, { content: text('two') });
      expect(second.body.seq).toBe(2);
      const messages = await hist(b, conv);
      expect(messages.map((m) => m.seq)).toEqual([1, 2]);
      expect(messages[0]).toEqual({
        id: first.body.id,
        conversationId: conv,
        seq: 1,
        senderId: a.id,
        senderDeviceId: a.sessionId,
        clientId: expect.any(String),
        kind: 'message',
        refs: {},
        content: text('one'),
        attachmentIds: [],
        createdAt: first.body.createdAt,
      });
      const view = await t.api.get(`/v1/conversations/${conv}`, a.token);
      expect(view.body).toMatchObject({ lastSeq: 2, unreadCount: 1 });
    });

    it('emits a message event to every member after commit, with the origin when given', async () => {
      const { a, b, conv } = await pair();
      const before = events.length;
      const res = await send(a, conv);
      const ev = events.slice(before).find((e) => e.type === 'message' && e.conversationId === conv) as Extract<DomainEvent, { type: 'message' }>;
      expect(ev.recipientIds.sort()).toEqual([a.id, b.id].sort());
      expect(ev.envelope).toMatchObject({ id: res.body.id, seq: 1, senderId: a.id });
    });

    it('is idempotent on (device, clientId): the same ack, 200, never a second message', { timeout: 60_000 }, async () => {
      const { a, b, conv } = await pair();
      const body = { clientId: 'retry-me', kind: 'message', content: text('once') };
      const first = await t.api.post(`/v1/conversations/${conv}/messages`, body, a.token);
      const again = await t.api.post(`/v1/conversations/${conv}/messages`, { ...body, content: text('changed') }, a.token);
      expect(first.status).toBe(201);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      // Concurrent retries of a new send: one message, one ack.
      const racing = await Promise.all(Array.from({ length: 10 }, () => t.api.post(`/v1/conversations/${conv}/messages`, { ...body, clientId: 'race' }, a.token)));
      expect(racing.filter((r) => r.status === 201)).toHaveLength(1);
      expect(racing.filter((r) => r.status === 200)).toHaveLength(9);
      expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
      // Another device of the same user, or another user, may use the same clientId.
      const other = await t.api.post('/v1/sessions', { username: a.username, password: 'correct horse battery' });
      expect((await t.api.post(`/v1/conversations/${conv}/messages`, body, other.body.session.token)).status).toBe(201);
      expect((await t.api.post(`/v1/conversations/${conv}/messages`, body, b.token)).status).toBe(201);
      expect((await hist(a, conv)).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
      // The same clientId in another conversation is a conflict, not a silent replay.
      const c = await t.api.signUp('mc');
      await connect(a, c);
      const conv2 = (await t.api.post('/v1/conversations', { type: 'direct', userId: c.id }, a.token)).body.id;
      const clash = await t.api.post(`/v1/conversations/${conv2}/messages`, body, a.token);
      expect(clash.status).toBe(409);
      expect(clash.body.error.code).toBe('conflict');
    });

    it('pages history both ways', { timeout: 60_000 }, async () => {
      const { a, conv } = await pair();
      for (let i = 1; i <= 12; i++) expect((await send(a, conv, { content: text(`m${i}`) })).body.seq).toBe(i);
      expect((await hist(a, conv, '?limit=5')).map((m) => m.seq)).toEqual([8, 9, 10, 11, 12]);
      expect((await hist(a, conv, '?before=8&limit=5')).map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
      expect((await hist(a, conv, '?before=3&limit=5')).map((m) => m.seq)).toEqual([1, 2]);
      expect((await hist(a, conv, '?before=1')).map((m) => m.seq)).toEqual([]);
      expect((await hist(a, conv, '?after=0&limit=5')).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect((await hist(a, conv, '?after=5&limit=5')).map((m) => m.seq)).toEqual([6, 7, 8, 9, 10]);
      expect((await hist(a, conv, '?after=10&limit=5')).map((m) => m.seq)).toEqual([11, 12]);
      expect((await hist(a, conv, '?after=12')).map((m) => m.seq)).toEqual([]);
      // Paging forward from 0 collects everything exactly once.
      const all: number[] = [];
      let after = 0;
      for (;;) {
        const page = await hist(a, conv, `?after=${after}&limit=4`);
        if (page.length === 0) break;
        all.push(...page.map((m) => m.seq));
        after = page.at(-1).seq;
      }
      expect(all).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      for (const q of ['?after=1&before=5', '?limit=0', '?limit=201', '?after=-1', '?before=0', '?after=x', '?limit=1.5']) {
        const res = await t.api.get(`/v1/conversations/${conv}/messages${q}`, a.token);
        expect(res.status, q).toBe(400);
        expect(res.body.error.code).toBe('invalid_request');
      }
    });

    it('refuses bad sends with 400 naming the field, 413 past the payload limit, 404 for non-members', async () => {
      const { a, b, conv } = await pair();
      const bad: [unknown, string][] = [
        [{ kind: 'message', content: text('x') }, 'body.clientId'],
        [{ clientId: '', kind: 'message', content: text('x') }, 'body.clientId'],
        [{ clientId: 'x'.repeat(65), kind: 'message', content: text('x') }, 'body.clientId'],
        [{ clientId: 'k', kind: 'system', content: text('x') }, 'body.kind'],
        [{ clientId: 'k', kind: 'delete', content: text('x') }, 'body.kind'],
        [{ clientId: 'k', kind: 'message', content: { encoding: 'rot13', data: 'x' } }, 'body.content.encoding'],
        [{ clientId: 'k', kind: 'message' }, 'body.content'],
        [{ clientId: 'k', kind: 'message', content: { encoding: 'plain', data: 5 } }, 'body.content.data'],
        [{ clientId: 'k', kind: 'message', content: { encoding: 'mls', data: 'not base64!' } }, 'content.data'],
        [{ clientId: 'k', kind: 'edit', content: text('x') }, 'refs.target'],
        [{ clientId: 'k', kind: 'reaction', content: text('x') }, 'refs.target'],
        [{ clientId: 'k', kind: 'message', content: text('x'), refs: { target: 'abc' } }, 'refs.target'],
        [{ clientId: 'k', kind: 'message', content: text('x'), refs: { other: 'abc' } }, 'body.refs'],
        [{ clientId: 'k', kind: 'message', content: text('x'), attachmentIds: ['bad id'] }, 'body.attachmentIds.0'],
        [{ clientId: 'k', kind: 'message', content: text('x'), attachmentIds: ['nope'] }, 'attachmentIds'],
      ];
      for (const [body, field] of bad) {
        const res = await t.api.post(`/v1/conversations/${conv}/messages`, body, a.token);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe('invalid_request');
        expect(res.body.error.data.field, JSON.stringify(body)).toBe(field);
      }
      expect((await t.api.post(`/v1/conversations/${conv}/messages`, 'not json', a.token)).status).toBe(400);
      const big = await send(a, conv, { content: { encoding: 'plain', data: 'x'.repeat(64 * 1024 + 1) } });
      expect(big.status).toBe(413);
      expect(big.body.error.code).toBe('too_large');
      const bigMls = await send(a, conv, { content: { encoding: 'mls', data: Buffer.alloc(64 * 1024 + 3).toString('base64') } });
      expect(bigMls.status).toBe(413);
      expect((await send(a, conv, { content: { encoding: 'plain', data: 'é'.repeat(32 * 1024) } })).status).toBe(201);
      expect((await send(a, conv, { content: { encoding: 'mls', data: Buffer.alloc(64 * 1024).toString('base64') } })).status).toBe(201);
      const stranger = await t.api.signUp('mx');
      expect((await send(stranger, conv)).status).toBe(404);
      expect((await t.api.get(`/v1/conversations/${conv}/messages`, stranger.token)).status).toBe(404);
      expect((await send(a, 'no-such-conversation')).status).toBe(404);
      expect((await t.api.post(`/v1/conversations/${conv}/messages`, { clientId: 'k', kind: 'message', content: text('x') })).status).toBe(401);
      expect((await hist(b, conv)).map((m) => m.seq)).toEqual([1, 2]);
    });

    it('edits: own non-deleted messages only; reactions and replies need an existing message here', async () => {
      const { a, b, conv } = await pair();
      const mine = (await send(a, conv, { content: text('orig') })).body;
      const theirs = (await send(b, conv)).body;
      const edit = await send(a, conv, { kind: 'edit', content: text('fixed'), refs: { target: mine.id } });
      expect(edit.status).toBe(201);
      const notMine = await send(a, conv, { kind: 'edit', content: text('x'), refs: { target: theirs.id } });
      expect(notMine.status).toBe(403);
      expect(notMine.body.error.code).toBe('forbidden');
      expect((await send(a, conv, { kind: 'edit', content: text('x'), refs: { target: 'missing' } })).status).toBe(404);
      expect((await send(b, conv, { kind: 'reaction', content: text('👍'), refs: { target: mine.id } })).status).toBe(201);
      expect((await send(b, conv, { kind: 'reaction', content: text('👍'), refs: { target: 'missing' } })).status).toBe(404);
      expect((await send(b, conv, { refs: { replyTo: mine.id } })).status).toBe(201);
      const missingReply = await send(b, conv, { refs: { replyTo: 'missing' } });
      expect(missingReply.status).toBe(404);
      expect(missingReply.body.error.data.field).toBe('refs.replyTo');
      // A message of another conversation is not found here.
      const other = await pair();
      const elsewhere = (await send(other.a, other.conv)).body.id;
      expect((await send(a, conv, { refs: { replyTo: elsewhere } })).status).toBe(404);
      const messages = await hist(a, conv);
      const original = messages.find((m) => m.id === mine.id);
      expect(original.editedAt).toBeDefined();
      expect(messages.find((m) => m.kind === 'edit').refs).toEqual({ target: mine.id });
      expect(messages.find((m) => m.refs.replyTo).refs).toEqual({ replyTo: mine.id });
      // Deleted messages cannot be edited.
      expect((await t.api.delete(`/v1/conversations/${conv}/messages/${mine.id}`, a.token)).status).toBe(204);
      expect((await send(a, conv, { kind: 'edit', content: text('again'), refs: { target: mine.id } })).status).toBe(404);
    });

    it('unsend erases the payload (and its edits) for everyone and appends a delete envelope', async () => {
      const { a, b, conv } = await pair();
      const msg = (await send(a, conv, { content: text('secret') })).body;
      await send(a, conv, { kind: 'edit', content: text('secret v2'), refs: { target: msg.id } });
      expect((await t.api.delete(`/v1/conversations/${conv}/messages/${msg.id}`, b.token)).status).toBe(403);
      const before = events.length;
      expect((await t.api.delete(`/v1/conversations/${conv}/messages/${msg.id}`, a.token)).status).toBe(204);
      const messages = await hist(b, conv);
      expect(messages[0]).toMatchObject({ id: msg.id, content: null, deletedAt: expect.any(String) });
      expect(messages[1]).toMatchObject({ kind: 'edit', content: null });
      expect(messages[2]).toMatchObject({ seq: 3, kind: 'delete', senderId: a.id, refs: { target: msg.id }, content: null });
      const ev = events.slice(before).find((e) => e.type === 'message') as Extract<DomainEvent, { type: 'message' }>;
      expect(ev.envelope).toMatchObject({ kind: 'delete', refs: { target: msg.id } });
      // The plaintext is gone from the database, not just hidden.
      const rows = await t.server.ctx.db.selectFrom('messages').select(['data']).where('conversation_id', '=', conv).execute();
      expect(rows.every((r) => r.data === null || !r.data.includes('secret'))).toBe(true);
      // Again: no second delete envelope.
      expect((await t.api.delete(`/v1/conversations/${conv}/messages/${msg.id}`, a.token)).status).toBe(204);
      expect((await hist(a, conv)).length).toBe(3);
      expect((await t.api.delete(`/v1/conversations/${conv}/messages/missing`, a.token)).status).toBe(404);
      expect((await t.api.delete(`/v1/conversations/${conv}/messages/${messages[2].id}`, a.token)).status).toBe(404);
      expect((await t.api.delete(`/v1/conversations/${conv}/messages/${msg.id}`, (await t.api.signUp('z')).token)).status).toBe(404);
    });

    it('group admins may unsend anyone’s message; members only their own', async () => {
      const owner = await t.api.signUp('uo');
      const m1 = await t.api.signUp('u1');
      const m2 = await t.api.signUp('u2');
      await connect(owner, m1);
      await connect(owner, m2);
      const conv = (await t.api.post('/v1/conversations', { type: 'group', title: 'G', memberIds: [m1.id, m2.id] }, owner.token)).body.id;
      const byM1 = (await send(m1, conv)).body.id;
      expect((await t.api.delete(`/v1/conversations/${conv}/messages/${byM1}`, m2.token)).status).toBe(403);
      expect((await t.api.delete(`/v1/conversations/${conv}/messages/${byM1}`, owner.token)).status).toBe(204);
      const del = (await hist(m2, conv)).at(-1);
      expect(del).toMatchObject({ kind: 'delete', senderId: owner.id, refs: { target: byM1 } });
    });

    it('markers are monotonic and clamped; reading clears the unread count; read implies delivered', async () => {
      const { a, b, conv } = await pair();
      for (let i = 0; i < 5; i++) await send(a, conv);
      await send(b, conv);
      expect((await t.api.get(`/v1/conversations/${conv}`, b.token)).body.unreadCount).toBe(5);
      const r3 = await t.api.post(`/v1/conversations/${conv}/read`, { seq: 3 }, b.token);
      expect(r3.status).toBe(200);
      expect(r3.body).toEqual({ seq: 3 });
      expect((await t.api.get(`/v1/conversations/${conv}`, b.token)).body.unreadCount).toBe(2);
      expect((await t.api.post(`/v1/conversations/${conv}/read`, { seq: 1 }, b.token)).body).toEqual({ seq: 3 });
      expect((await t.api.post(`/v1/conversations/${conv}/delivered`, { seq: 2 }, b.token)).body).toEqual({ seq: 3 });
      expect((await t.api.post(`/v1/conversations/${conv}/read`, { seq: 999 }, b.token)).body).toEqual({ seq: 6 });
      expect((await t.api.get(`/v1/conversations/${conv}`, b.token)).body.unreadCount).toBe(0);
      expect((await t.api.post(`/v1/conversations/${conv}/delivered`, { seq: 999 }, a.token)).body).toEqual({ seq: 6 });
      for (const body of [{}, { seq: -1 }, { seq: 'x' }, { seq: 1.5 }]) {
        expect((await t.api.post(`/v1/conversations/${conv}/read`, body, b.token)).status).toBe(400);
      }
      expect((await t.api.post(`/v1/conversations/${conv}/read`, { seq: 1 }, (await t.api.signUp('q')).token)).status).toBe(404);
    });

    it('unread counts only messages from others (not edits, reactions, system or deleted ones)', async () => {
      const { a, b, conv } = await pair();
      const m1 = (await send(a, conv)).body.id;
      const m2 = (await send(a, conv)).body.id;
      await send(a, conv, { kind: 'edit', content: text('e'), refs: { target: m1 } });
      await send(b, conv, { kind: 'reaction', content: text('r'), refs: { target: m1 } });
      await t.api.patch(`/v1/conversations/${conv}`, { disappearingSeconds: 300 }, a.token);
      expect((await t.api.get(`/v1/conversations/${conv}`, b.token)).body.unreadCount).toBe(2);
      await t.api.delete(`/v1/conversations/${conv}/messages/${m2}`, a.token);
      expect((await t.api.get(`/v1/conversations/${conv}`, b.token)).body.unreadCount).toBe(1);
      expect((await t.api.get(`/v1/conversations/${conv}`, a.token)).body.unreadCount).toBe(0);
    });

    it('read markers reach others only when both sides have read receipts on', async () => {
      const { a, b, conv } = await pair();
      await send(a, conv);
      await send(a, conv);
      let before = events.length;
      await t.api.post(`/v1/conversations/${conv}/read`, { seq: 1 }, b.token);
      let marker = events.slice(before).find((e) => e.type === 'marker') as Extract<DomainEvent, { type: 'marker' }>;
      expect(marker).toMatchObject({ conversationId: conv, userId: b.id, kind: 'read', seq: 1 });
      expect(marker.recipientIds.sort()).toEqual([a.id, b.id].sort());
      await t.api.patch('/v1/me/privacy', { readReceipts: false }, a.token);
      before = events.length;
      await t.api.post(`/v1/conversations/${conv}/read`, { seq: 2 }, b.token);
      marker = events.slice(before).find((e) => e.type === 'marker') as Extract<DomainEvent, { type: 'marker' }>;
      expect(marker.recipientIds).toEqual([b.id]);
      before = events.length;
      await t.api.post(`/v1/conversations/${conv}/delivered`, { seq: 2 }, a.token);
      marker = events.slice(before).find((e) => e.type === 'marker') as Extract<DomainEvent, { type: 'marker' }>;
      expect(marker.recipientIds.sort()).toEqual([a.id, b.id].sort());
    });

    it('attachments: must be the sender’s; referenced in the same transaction', async () => {
      const { a, b, conv } = await pair();
      const up = await t.api.call('POST', '/v1/attachments', { token: a.token, body: 'file bytes', headers: { 'content-type': 'application/octet-stream' } });
      expect(up.status).toBe(201);
      const theirs = await t.api.call('POST', '/v1/attachments', { token: b.token, body: 'other bytes', headers: { 'content-type': 'application/octet-stream' } });
      const refused = await send(a, conv, { attachmentIds: [theirs.body.id] });
      expect(refused.status).toBe(400);
      expect(refused.body.error.data.field).toBe('attachmentIds');
      const ok = await send(a, conv, { attachmentIds: [up.body.id, up.body.id] });
      expect(ok.status).toBe(201);
      expect((await hist(b, conv))[0].attachmentIds).toEqual([up.body.id]);
      const refs = await t.server.ctx.db.selectFrom('attachment_refs').selectAll().where('attachment_id', '=', up.body.id).execute();
      expect(refs).toEqual([{ attachment_id: up.body.id, conversation_id: conv, message_id: ok.body.id }]);
      const row = await t.server.ctx.db.selectFrom('attachments').select('referenced_at').where('id', '=', up.body.id).executeTakeFirstOrThrow();
      expect(row.referenced_at).toBe(ok.body.createdAt);
      expect((await send(a, conv, { kind: 'reaction', content: text('r'), refs: { target: ok.body.id }, attachmentIds: [up.body.id] })).status).toBe(400);
    });

    it('a block stops sends in a direct conversation with the same answer as privacy', async () => {
      const { a, b, conv } = await pair();
      await send(a, conv);
      await t.api.put(`/v1/blocks/${a.id}`, {}, b.token);
      const res = await send(a, conv);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('messaging_not_allowed');
      expect((await send(b, conv)).status).toBe(403);
      await t.api.delete(`/v1/blocks/${a.id}`, b.token);
      expect((await send(a, conv)).status).toBe(201);
    });

    it('history is invisible before joining and expired payloads are gone', async () => {
      const { a, conv } = await pair();
      await t.api.patch(`/v1/conversations/${conv}`, { disappearingSeconds: 300 }, a.token);
      const sent = (await send(a, conv)).body;
      // Age the message past its expiry, as the clock would.
      await t.server.ctx.db.updateTable('messages').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', sent.id).execute();
      const env = (await hist(a, conv)).find((m) => m.id === sent.id);
      expect(env.content).toBeNull();
      expect(env.expiresAt).toBeDefined();
    });
  });
  describe(`send rate limit [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect, { sendsPerMinute: 3 });
    });
    afterAll(async () => t?.close());

    it('answers 429 rate_limited with Retry-After past the per-user send rate; retries of acked sends still replay', async () => {
      const a = await t.api.signUp('rl');
      const b = await t.api.signUp('rm');
      await t.api.post(`/v1/connections/${b.id}`, {}, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token);
      const conv = (await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).body.id;
      const body = (clientId: string) => ({ clientId, kind: 'message', content: text(clientId) });
      for (let i = 0; i < 3; i++) expect((await t.api.post(`/v1/conversations/${conv}/messages`, body(`l${i}`), a.token)).status).toBe(201);
      const limited = await t.api.post(`/v1/conversations/${conv}/messages`, body('l3'), a.token);
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await t.api.post(`/v1/conversations/${conv}/messages`, body('l0'), a.token)).status).toBe(200);
      expect((await t.api.post(`/v1/conversations/${conv}/messages`, body('b0'), b.token)).status).toBe(201);
    });
  });
}
