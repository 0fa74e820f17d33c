import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import type { DomainEvent } from '../src/bus/events.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

const text = (t: string) => ({ encoding: 'plain', data: JSON.stringify({ type: 'text', text: t }) });
let n = 0;
const cid = () => `r-${Date.now().toString(36)}-${n++}`;

for (const dialect of DIALECTS) {
  describe(`message requests [${dialect}]`, () => {
    let t: TestServer;
    const events: DomainEvent[] = [];
    beforeAll(async () => {
      t = await startTestServer(dialect, { requestsPerDay: 3 });
      const emit = t.server.ctx.emit;
      t.server.ctx.emit = (e) => {
        events.push(e);
        emit(e);
      };
    });
    afterAll(async () => t?.close());

    const send = (u: U, conv: string, body: Record<string, unknown> = {}) =>
      t.api.post(`/v1/conversations/${conv}/messages`, { clientId: cid(), kind: 'message', content: text('hello?'), ...body }, u.token);
    async function request(): Promise<{ a: U; b: U; conv: string }> {
      const a = await t.api.signUp('req_a');
      const b = await t.api.signUp('req_b');
      const res = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
      expect(res.status).toBe(201);
      return { a, b, conv: res.body.id };
    }
    const folder = async (u: U, f: string) => ((await t.api.get(`/v1/conversations?folder=${f}`, u.token)).body.conversations as any[]).map((c) => c.id);

    it('a first message from a stranger sits in the recipient’s requests; the sender may send 3, then 403 request_pending', async () => {
      const { a, b, conv } = await request();
      for (let i = 1; i <= 3; i++) expect((await send(a, conv)).status).toBe(201);
      const fourth = await send(a, conv);
      expect(fourth.status).toBe(403);
      expect(fourth.body.error.code).toBe('request_pending');
      expect(await folder(b, 'requests')).toEqual([conv]);
      expect(await folder(b, 'inbox')).toEqual([]);
      expect(await folder(a, 'inbox')).toEqual([conv]);
      const msgs = (await t.api.get(`/v1/conversations/${conv}/messages`, b.token)).body.messages;
      expect(msgs.map((m: any) => m.seq)).toEqual([1, 2, 3]);
      expect((await t.api.get(`/v1/conversations/${conv}`, b.token)).body.unreadCount).toBe(3);
    });

    it('reaches the recipient with its first message, not when it is opened: folder, sync and events', async () => {
      const before = events.length;
      const { a, b, conv } = await request();
      const opened = events.slice(before).filter((e) => e.type === 'conversation.changed' && e.conversationId === conv);
      expect(opened.flatMap((e) => (e as { recipientIds: string[] }).recipientIds)).toEqual([a.id]);
      expect(await folder(b, 'requests')).toEqual([]);
      expect((await t.api.get('/v1/sync', b.token)).body.conversations.map((c: any) => c.id)).not.toContain(conv);
      expect(await folder(a, 'inbox')).toEqual([conv]);

      const mark = events.length;
      expect((await send(a, conv)).status).toBe(201);
      const told = events.slice(mark).filter((e) => e.type === 'conversation.changed' && e.conversationId === conv);
      expect(told.flatMap((e) => (e as { recipientIds: string[] }).recipientIds)).toEqual([b.id]);
      expect(await folder(b, 'requests')).toEqual([conv]);
      const synced = (await t.api.get('/v1/sync', b.token)).body.conversations.find((c: any) => c.id === conv);
      expect(synced).toMatchObject({ myState: 'request', lastSeq: 1 });
    });

    it('no attachments into an unanswered request', async () => {
      const { a, conv } = await request();
      const up = await t.api.call('POST', '/v1/attachments', { token: a.token, body: 'bytes', headers: { 'content-type': 'application/octet-stream' } });
      const res = await send(a, conv, { attachmentIds: [up.body.id] });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('request_pending');
    });

    it('accepting moves it to the inbox and lifts the cap', async () => {
      const { a, b, conv } = await request();
      for (let i = 0; i < 3; i++) await send(a, conv);
      const before = events.length;
      const acc = await t.api.post(`/v1/conversations/${conv}/accept`, {}, b.token);
      expect(acc.status).toBe(200);
      expect(acc.body.myState).toBe('active');
      expect(events.slice(before).some((e) => e.type === 'conversation.changed' && e.conversationId === conv && e.recipientIds.includes(a.id))).toBe(true);
      expect(await folder(b, 'inbox')).toEqual([conv]);
      expect(await folder(b, 'requests')).toEqual([]);
      expect((await send(a, conv)).status).toBe(201);
      expect((await t.api.get(`/v1/conversations/${conv}`, a.token)).body.members.find((m: any) => m.userId === b.id).state).toBe('active');
    });

    it('replying accepts', async () => {
      const { a, b, conv } = await request();
      for (let i = 0; i < 3; i++) await send(a, conv);
      expect((await send(b, conv, { content: text('hi back') })).status).toBe(201);
      expect((await t.api.get(`/v1/conversations/${conv}`, b.token)).body.myState).toBe('active');
      expect(await folder(b, 'inbox')).toEqual([conv]);
      expect((await send(a, conv)).status).toBe(201);
    });

    it('the recipient opening the conversation from their side accepts it', async () => {
      const { a, b, conv } = await request();
      await send(a, conv);
      const opened = await t.api.post('/v1/conversations', { type: 'direct', userId: a.id }, b.token);
      expect(opened.status).toBe(200);
      expect(opened.body).toMatchObject({ id: conv, myState: 'active' });
      expect(await folder(b, 'inbox')).toEqual([conv]);
    });

    it('declining hides it from the recipient and tells the sender nothing', async () => {
      const { a, b, conv } = await request();
      await send(a, conv);
      const seenBefore = (await t.api.get(`/v1/conversations/${conv}`, a.token)).body;
      const before = events.length;
      const dec = await t.api.post(`/v1/conversations/${conv}/decline`, {}, b.token);
      expect(dec.status).toBe(200);
      expect(dec.body.myState).toBe('declined');
      const declineEvents = events.slice(before);
      expect(declineEvents.every((e) => !('recipientIds' in e) || !e.recipientIds.includes(a.id))).toBe(true);
      expect(declineEvents.some((e) => e.type === 'conversation.removed' && e.recipientIds.includes(b.id))).toBe(true);
      expect(await folder(b, 'requests')).toEqual([]);
      expect(await folder(b, 'inbox')).toEqual([]);
      // The sender's view is unchanged, and their sends still get acks, to the same cap.
      expect((await t.api.get(`/v1/conversations/${conv}`, a.token)).body).toEqual(seenBefore);
      const afterDecline = events.length;
      expect((await send(a, conv)).status).toBe(201);
      expect((await send(a, conv)).status).toBe(201);
      expect((await send(a, conv)).body.error.code).toBe('request_pending');
      const msgEvents = events.slice(afterDecline).filter((e) => e.type === 'message') as Extract<DomainEvent, { type: 'message' }>[];
      expect(msgEvents.length).toBe(2);
      for (const e of msgEvents) expect(e.recipientIds).toEqual([a.id]);
      // Opening the conversation again afterwards is the recipient's choice.
      expect((await t.api.post(`/v1/conversations/${conv}/accept`, {}, b.token)).body.myState).toBe('active');
      expect((await t.api.post(`/v1/conversations/${conv}/decline`, {}, b.token)).status).toBe(409);
    });

    it('the recipient’s read markers are not shown to the sender until accepted', async () => {
      const { a, b, conv } = await request();
      await send(a, conv);
      let before = events.length;
      expect((await t.api.post(`/v1/conversations/${conv}/read`, { seq: 1 }, b.token)).status).toBe(200);
      let marker = events.slice(before).find((e) => e.type === 'marker') as Extract<DomainEvent, { type: 'marker' }>;
      expect(marker.recipientIds).toEqual([b.id]);
      await t.api.post(`/v1/conversations/${conv}/accept`, {}, b.token);
      await send(a, conv);
      before = events.length;
      await t.api.post(`/v1/conversations/${conv}/read`, { seq: 2 }, b.token);
      marker = events.slice(before).find((e) => e.type === 'marker') as Extract<DomainEvent, { type: 'marker' }>;
      expect(marker.recipientIds.sort()).toEqual([a.id, b.id].sort());
    });

    it('at most requestsPerDay new requests a day: then 429 rate_limited with Retry-After', async () => {
      const a = await t.api.signUp('daily');
      const opened: number[] = [];
      const targets: U[] = [];
      for (let i = 0; i < 4; i++) {
        const b = await t.api.signUp('daily_t');
        targets.push(b);
        opened.push((await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).status);
      }
      expect(opened).toEqual([201, 201, 201, 429]);
      const b = await t.api.signUp('daily_t');
      const res = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('rate_limited');
      const retry = Number(res.headers.get('retry-after'));
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(86_400);
      // A refused request leaves nothing behind; contacting a connection is not a request.
      expect((await t.api.get(`/v1/conversations`, b.token)).body.conversations).toEqual([]);
      await t.api.post(`/v1/connections/${b.id}`, {}, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token);
      expect((await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).status).toBe(201);
      // Re-opening an existing request is not a new one either.
      expect((await t.api.post('/v1/conversations', { type: 'direct', userId: targets[0]!.id }, a.token)).status).toBe(200);
    });
  });
}
