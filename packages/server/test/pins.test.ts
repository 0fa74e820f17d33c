import { PINS_PER_CONVERSATION } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import { WsClient } from './realtime-client.ts';

type User = Awaited<ReturnType<TestServer['api']['signUp']>>;

let clientIds = 0;
const text = (s: string) => ({ clientId: `pin-${clientIds++}`, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: s }) } });

for (const dialect of DIALECTS) {
  describe(`pinned messages [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => t?.close());

    async function send(user: User, conversationId: string, body: Record<string, unknown> = text('hello')): Promise<string> {
      const res = await t.api.post(`/v1/conversations/${conversationId}/messages`, body, user.token);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.id;
    }

    async function direct(a: User, b: User): Promise<string> {
      const res = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
      expect(res.status).toBe(201);
      expect((await t.api.post(`/v1/conversations/${res.body.id}/accept`, {}, b.token)).status).toBe(200);
      return res.body.id;
    }

    async function group(owner: User, members: User[]): Promise<string> {
      for (const m of members) await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, m.token);
      const res = await t.api.post('/v1/conversations', { type: 'group', title: 'pins', memberIds: members.map((m) => m.id) }, owner.token);
      expect(res.status).toBe(201);
      expect(res.body.notAdded).toEqual([]);
      return res.body.id;
    }

    async function history(user: User, conversationId: string) {
      const res = await t.api.get(`/v1/conversations/${conversationId}/messages?after=0&limit=200`, user.token);
      expect(res.status).toBe(200);
      return res.body.messages as any[];
    }

    const systemEvents = (messages: any[]) =>
      messages.filter((m) => m.kind === 'system').map((m) => ({ ...JSON.parse(m.content.data), target: m.refs.target }));

    it('any member of a direct conversation pins and unpins; each is announced in history', async () => {
      const a = await t.api.signUp('pa');
      const b = await t.api.signUp('pb');
      const c = await direct(a, b);
      const m1 = await send(a, c);
      const m2 = await send(b, c);

      const pinned = await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m1 }, b.token);
      expect(pinned.status).toBe(201);
      expect(pinned.body).toEqual({ messageId: m1, seq: expect.any(Number), pinnedBy: b.id, pinnedAt: expect.any(String) });
      expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m2 }, a.token)).status).toBe(201);

      // Pinning again answers the pin that exists, without a second notice.
      const again = await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m1 }, a.token);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(pinned.body);

      const list = await t.api.get(`/v1/conversations/${c}/pins`, a.token);
      expect(list.status).toBe(200);
      expect(list.body.pins.map((p: any) => p.messageId)).toEqual([m2, m1]);
      expect(list.body.pins[1]).toEqual(pinned.body);

      expect((await t.api.delete(`/v1/conversations/${c}/pins/${m1}`, a.token)).status).toBe(204);
      const gone = await t.api.delete(`/v1/conversations/${c}/pins/${m1}`, a.token);
      expect(gone.status).toBe(404);
      expect(gone.body.error.code).toBe('not_found');
      expect((await t.api.get(`/v1/conversations/${c}/pins`, b.token)).body.pins.map((p: any) => p.messageId)).toEqual([m2]);

      const notices = systemEvents(await history(b, c));
      expect(notices).toEqual([
        { type: 'system', event: 'message_pinned', actorId: b.id, data: { messageId: m1 }, target: m1 },
        { type: 'system', event: 'message_pinned', actorId: a.id, data: { messageId: m2 }, target: m2 },
        { type: 'system', event: 'message_unpinned', actorId: a.id, data: { messageId: m1 }, target: m1 },
      ]);
    });

    it('in a group only admins and the owner pin; every member sees the pins; outsiders and leavers get 404', async () => {
      const owner = await t.api.signUp('po');
      const admin = await t.api.signUp('pad');
      const member = await t.api.signUp('pm');
      const leaver = await t.api.signUp('pl');
      const stranger = await t.api.signUp('ps');
      const c = await group(owner, [admin, member, leaver]);
      expect((await t.api.patch(`/v1/conversations/${c}/members/${admin.id}`, { role: 'admin' }, owner.token)).status).toBe(200);
      const m1 = await send(member, c);
      const m2 = await send(owner, c);

      const refused = await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m1 }, member.token);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('forbidden');
      expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m1 }, admin.token)).status).toBe(201);
      expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m2 }, owner.token)).status).toBe(201);
      expect((await t.api.delete(`/v1/conversations/${c}/pins/${m1}`, member.token)).status).toBe(403);

      const seen = await t.api.get(`/v1/conversations/${c}/pins`, member.token);
      expect(seen.status).toBe(200);
      expect(seen.body.pins.map((p: any) => p.messageId)).toEqual([m2, m1]);

      for (const who of [stranger]) {
        expect((await t.api.get(`/v1/conversations/${c}/pins`, who.token)).status).toBe(404);
        expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m1 }, who.token)).status).toBe(404);
        expect((await t.api.delete(`/v1/conversations/${c}/pins/${m1}`, who.token)).status).toBe(404);
      }
      expect((await t.api.delete(`/v1/conversations/${c}/members/${leaver.id}`, leaver.token)).status).toBe(204);
      expect((await t.api.get(`/v1/conversations/${c}/pins`, leaver.token)).status).toBe(404);

      // A demoted admin loses the right.
      expect((await t.api.patch(`/v1/conversations/${c}/members/${admin.id}`, { role: 'member' }, owner.token)).status).toBe(200);
      expect((await t.api.delete(`/v1/conversations/${c}/pins/${m1}`, admin.token)).status).toBe(403);
      expect((await t.api.delete(`/v1/conversations/${c}/pins/${m1}`, owner.token)).status).toBe(204);
    });

    it('pins only messages one can see: not reactions, notices, unsent ones, other conversations or bad ids', async () => {
      const a = await t.api.signUp('pv');
      const b = await t.api.signUp('pw');
      const c = await direct(a, b);
      const other = await direct(a, await t.api.signUp('px'));
      const m1 = await send(a, c);
      const reaction = await send(b, c, { clientId: `r-${clientIds++}`, kind: 'reaction', refs: { target: m1 }, content: { encoding: 'plain', data: '{"type":"reaction","emoji":"👍","on":true}' } });
      const elsewhere = await send(a, other);
      expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m1 }, a.token)).status).toBe(201);
      const notice = (await history(a, c)).find((m) => m.kind === 'system')!.id;

      for (const messageId of [reaction, notice, elsewhere, '0190aaaa-0000-7000-8000-000000000000']) {
        const res = await t.api.post(`/v1/conversations/${c}/pins`, { messageId }, a.token);
        expect(res.status, messageId).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
      for (const body of [{}, { messageId: '' }, { messageId: 'bad id!' }, { messageId: 42 }, 'nonsense']) {
        const res = await t.api.post(`/v1/conversations/${c}/pins`, body, a.token);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe('invalid_request');
      }
      expect((await t.api.get(`/v1/conversations/bad$id/pins`, a.token)).status).toBe(400);
      expect((await t.api.get(`/v1/conversations/${c}/pins`)).status).toBe(401);

      // Unsending a pinned message takes it off the list.
      expect((await t.api.delete(`/v1/conversations/${c}/messages/${m1}`, a.token)).status).toBe(204);
      expect((await t.api.get(`/v1/conversations/${c}/pins`, b.token)).body.pins).toEqual([]);
      expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m1 }, a.token)).status).toBe(404);
    });

    it('caps the pins of a conversation (409 conflict, reason pin_limit)', async () => {
      const a = await t.api.signUp('pcap');
      const b = await t.api.signUp('pcap');
      const c = await direct(a, b);
      const ids: string[] = [];
      for (let i = 0; i <= PINS_PER_CONVERSATION; i++) ids.push(await send(a, c, text(`m${i}`)));
      for (const id of ids.slice(0, PINS_PER_CONVERSATION)) expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: id }, a.token)).status).toBe(201);
      const over = await t.api.post(`/v1/conversations/${c}/pins`, { messageId: ids[PINS_PER_CONVERSATION] }, b.token);
      expect(over.status).toBe(409);
      expect(over.body.error).toMatchObject({ code: 'conflict', data: { reason: 'pin_limit', limit: PINS_PER_CONVERSATION } });
      expect((await t.api.delete(`/v1/conversations/${c}/pins/${ids[0]}`, b.token)).status).toBe(204);
      expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: ids[PINS_PER_CONVERSATION] }, b.token)).status).toBe(201);
      expect((await t.api.get(`/v1/conversations/${c}/pins`, a.token)).body.pins).toHaveLength(PINS_PER_CONVERSATION);
    }, 120_000);

    it('delivers the pin notice to the other members’ sockets at once', async () => {
      const a = await t.api.signUp('pws');
      const b = await t.api.signUp('pws');
      const c = await direct(a, b);
      const m1 = await send(a, c);
      const { client } = await WsClient.connect(t.wsUrl, b.token);
      try {
        expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m1 }, a.token)).status).toBe(201);
        const frame = await client.next('message', (f) => f.envelope.kind === 'system');
        expect(frame.envelope).toMatchObject({ conversationId: c, senderId: a.id, refs: { target: m1 } });
        expect(JSON.parse(frame.envelope.content.data)).toEqual({ type: 'system', event: 'message_pinned', actorId: a.id, data: { messageId: m1 } });
        expect((await t.api.delete(`/v1/conversations/${c}/pins/${m1}`, a.token)).status).toBe(204);
        const unpinned = await client.next('message', (f) => f.envelope.kind === 'system');
        expect(JSON.parse(unpinned.envelope.content.data).event).toBe('message_unpinned');
        expect(unpinned.envelope.seq).toBe(frame.envelope.seq + 1);
      } finally {
        client.ws.close();
      }
    });

    it('is in the OpenAPI reference', async () => {
      const doc = (await t.api.get('/v1/openapi.json')).body;
      expect(doc.paths['/v1/conversations/{id}/pins'].get.tags).toContain('pins');
      expect(doc.paths['/v1/conversations/{id}/pins'].post.tags).toContain('pins');
      expect(doc.paths['/v1/conversations/{id}/pins/{messageId}'].delete.tags).toContain('pins');
    });
  });
}
