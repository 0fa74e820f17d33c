import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './harness.ts';
import { busVariants, WsClient } from './realtime-client.ts';

type User = Awaited<ReturnType<TestServer['api']['signUp']>>;

for (const { dialect, bus, config } of await busVariants()) {
  describe(`typing [${dialect}, ${bus} bus]`, () => {
    let t: TestServer;
    const open: WsClient[] = [];
    const connect = async (token: string) => {
      const r = await WsClient.connect(t.wsUrl, token);
      open.push(r.client);
      return r.client;
    };
    const connectUsers = async (a: User, b: User) => {
      expect((await t.api.post(`/v1/connections/${b.id}`, {}, a.token)).status).toBeLessThan(300);
      expect((await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token)).status).toBeLessThan(300);
    };
    const direct = async (from: User, to: User) => {
      const conv = await t.api.post('/v1/conversations', { type: 'direct', userId: to.id }, from.token);
      expect(conv.status).toBeLessThan(300);
      return conv.body.id as string;
    };

    beforeAll(async () => {
      // Low enough that the limit test reaches it, high enough for the other tests.
      t = await startTestServer(dialect, { ...config, typingPerMinute: 30 });
    });
    afterAll(async () => {
      for (const c of open) c.close();
      await t?.close();
    });

    it('shows typing to the other members, not to the typist’s own devices, and stops it', async () => {
      const a = await t.api.signUp('ta');
      const b = await t.api.signUp('tb');
      await connectUsers(a, b);
      const conversationId = await direct(a, b);
      const aWs = await connect(a.token);
      const second = await t.api.post('/v1/sessions', { username: a.username, password: 'correct horse battery' });
      const a2Ws = await connect(second.body.session.token);
      const bWs = await connect(b.token);
      aWs.send({ type: 'typing', conversationId, active: true });
      expect(await bWs.next('typing')).toEqual({ type: 'typing', conversationId, userId: a.id, active: true });
      aWs.send({ type: 'typing', conversationId, active: false });
      expect(await bWs.next('typing')).toEqual({ type: 'typing', conversationId, userId: a.id, active: false });
      await aWs.sync();
      await a2Ws.sync();
      await a2Ws.none('typing');
      await aWs.none('typing');
    });

    it('turns an indicator off by itself after ~5 s without a refresh, and when its socket closes', async () => {
      const a = await t.api.signUp('tc');
      const b = await t.api.signUp('td');
      await connectUsers(a, b);
      const conversationId = await direct(a, b);
      const aWs = await connect(a.token);
      const bWs = await connect(b.token);
      aWs.send({ type: 'typing', conversationId, active: true });
      await bWs.next('typing', (f) => f.active === true);
      expect(await bWs.next('typing', (f) => f.active === false, 9000)).toMatchObject({ userId: a.id, conversationId });

      aWs.send({ type: 'typing', conversationId, active: true });
      await bWs.next('typing', (f) => f.active === true);
      aWs.close();
      expect(await bWs.next('typing', (f) => f.active === false, 3000)).toMatchObject({ userId: a.id });
    }, 20_000);

    it('refuses typing into a conversation one is not in, as not found', async () => {
      const a = await t.api.signUp('te');
      const b = await t.api.signUp('tf');
      await connectUsers(a, b);
      const conversationId = await direct(a, b);
      const stranger = await t.api.signUp('tg');
      const sWs = await connect(stranger.token);
      const bWs = await connect(b.token);
      for (const id of [conversationId, 'no-such-conversation']) {
        sWs.send({ type: 'typing', conversationId: id, active: true });
        expect((await sWs.next('error')).error.code).toBe('not_found');
      }
      await bWs.sync();
      await bWs.none('typing');
    });

    it('never crosses a block, either way', async () => {
      const a = await t.api.signUp('th');
      const b = await t.api.signUp('ti');
      const host = await t.api.signUp('tj');
      for (const u of [a, b]) await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, u.token);
      const group = await t.api.post('/v1/conversations', { type: 'group', title: 'Typing', memberIds: [a.id, b.id] }, host.token);
      expect(group.body.notAdded).toEqual([]);
      const conversationId = group.body.id as string;
      expect((await t.api.put(`/v1/blocks/${b.id}`, {}, a.token)).status).toBeLessThan(300);
      const aWs = await connect(a.token);
      const bWs = await connect(b.token);
      const hostWs = await connect(host.token);
      aWs.send({ type: 'typing', conversationId, active: true });
      await hostWs.next('typing', (f) => f.userId === a.id);
      bWs.send({ type: 'typing', conversationId, active: true });
      await hostWs.next('typing', (f) => f.userId === b.id);
      await aWs.sync();
      await bWs.sync();
      await aWs.none('typing');
      await bWs.none('typing');
    });

    it('nothing crosses an unanswered message request, until it is accepted', async () => {
      const sender = await t.api.signUp('tk');
      const recipient = await t.api.signUp('tl');
      const conversationId = await direct(sender, recipient);
      const first = await t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: 'x1', kind: 'message', content: { encoding: 'plain', data: '"hello?"' } }, sender.token);
      expect(first.status).toBe(201);
      const sWs = await connect(sender.token);
      const rWs = await connect(recipient.token);
      rWs.send({ type: 'typing', conversationId, active: true });
      sWs.send({ type: 'typing', conversationId, active: true });
      await rWs.sync();
      await sWs.sync();
      await sWs.none('typing');
      await rWs.none('typing');

      expect((await t.api.post(`/v1/conversations/${conversationId}/accept`, {}, recipient.token)).status).toBeLessThan(300);
      rWs.send({ type: 'typing', conversationId, active: true });
      expect(await sWs.next('typing')).toMatchObject({ userId: recipient.id, active: true });
    });

    it('rate limits typing with an error frame carrying retryAfter; the socket stays open', async () => {
      const a = await t.api.signUp('tm');
      const b = await t.api.signUp('tn');
      await connectUsers(a, b);
      const conversationId = await direct(a, b);
      const aWs = await connect(a.token);
      for (let i = 0; i < 31; i++) aWs.send({ type: 'typing', conversationId, active: true });
      const error = await aWs.next('error');
      expect(error.error.code).toBe('rate_limited');
      expect(error.error.data.retryAfter).toBeGreaterThanOrEqual(1);
      await aWs.sync();
      expect(aWs.closed).toBeNull();
    });
  });
}
