import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import { WsClient } from './realtime-client.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

for (const dialect of DIALECTS) {
  describe(`blocks [${dialect}]`, () => {
    let t: TestServer;
    const sockets: WsClient[] = [];
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => {
      for (const s of sockets) s.close();
      await t?.close();
    });

    let n = 0;
    const send = (u: U, conversationId: string, text = 'hello') =>
      t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: `b${++n}`, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text }) } }, u.token);
    const block = (by: U, who: U) => t.api.put(`/v1/blocks/${who.id}`, undefined, by.token);
    const unblock = (by: U, who: U) => t.api.delete(`/v1/blocks/${who.id}`, by.token);
    const connect = async (a: U, b: U) => {
      await t.api.post(`/v1/connections/${b.id}`, undefined, a.token);
      expect((await t.api.post(`/v1/connections/${a.id}/accept`, undefined, b.token)).status).toBe(200);
    };
    const connections = async (u: U, state = 'connected') => (await t.api.get(`/v1/connections?state=${state}`, u.token)).body.connections.map((c: any) => c.user.id);
    const socket = async (u: U) => {
      const { client } = await WsClient.connect(t.wsUrl, u.token);
      sockets.push(client);
      return client;
    };

    it('PUT blocks (idempotent), GET lists, DELETE unblocks; bad targets get stable codes', async () => {
      const me = await t.api.signUp('blocker');
      const x = await t.api.signUp('x');
      const y = await t.api.signUp('y');
      expect((await block(me, x)).status).toBe(204);
      expect((await block(me, x)).status).toBe(204);
      expect((await block(me, y)).status).toBe(204);
      const list = await t.api.get('/v1/blocks', me.token);
      expect(list.status).toBe(200);
      expect(list.body.blocks.map((b: any) => b.user.id).sort()).toEqual([x.id, y.id].sort());
      expect(list.body.blocks[0]).toEqual({ userId: expect.any(String), user: expect.objectContaining({ id: expect.any(String), username: expect.any(String) }), createdAt: expect.any(String) });
      expect(list.body.nextCursor).toBeNull();

      const first = await t.api.get('/v1/blocks?limit=1', me.token);
      expect(first.body.blocks).toHaveLength(1);
      const second = await t.api.get(`/v1/blocks?limit=1&cursor=${first.body.nextCursor}`, me.token);
      expect(second.body.blocks).toHaveLength(1);
      expect(second.body.blocks[0].user.id).not.toBe(first.body.blocks[0].user.id);
      expect(second.body.nextCursor).toBeNull();

      expect((await unblock(me, x)).status).toBe(204);
      expect((await unblock(me, x)).status).toBe(204);
      expect((await t.api.get('/v1/blocks', me.token)).body.blocks.map((b: any) => b.user.id)).toEqual([y.id]);
      // Nobody sees anyone else's block list.
      expect((await t.api.get('/v1/blocks', y.token)).body.blocks).toEqual([]);

      const self = await t.api.put(`/v1/blocks/${me.id}`, undefined, me.token);
      expect(self.status).toBe(400);
      expect(self.body.error.data.field).toBe('params.userId');
      expect((await t.api.put('/v1/blocks/no-such-user', undefined, me.token)).status).toBe(404);
      expect((await t.api.delete('/v1/blocks/no-such-user', me.token)).status).toBe(404);
      expect((await t.api.put('/v1/blocks/not%20an%20id', undefined, me.token)).status).toBe(400);
      expect((await t.api.get('/v1/blocks?limit=500', me.token)).status).toBe(400);
      expect((await t.api.put(`/v1/blocks/${x.id}`, undefined)).status).toBe(401);
    });

    it('the blocked user gets the answers privacy settings would give, and never learns of the block', async () => {
      const me = await t.api.signUp('me');
      const them = await t.api.signUp('them');
      const closed = await t.api.signUp('closed');
      await t.api.patch('/v1/me/privacy', { whoCanMessage: 'nobody', whoCanAddToGroups: 'nobody' }, closed.token);
      await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, me.token);
      expect((await block(me, them)).status).toBe(204);

      // Opening a conversation: the same 403 as a closed account.
      const toMe = await t.api.post('/v1/conversations', { type: 'direct', userId: me.id }, them.token);
      const toClosed = await t.api.post('/v1/conversations', { type: 'direct', userId: closed.id }, them.token);
      expect(toMe.status).toBe(403);
      expect(toMe.body).toEqual(toClosed.body);
      expect(toMe.body.error.code).toBe('messaging_not_allowed');

      // Adding me to a group: not_allowed, like the closed account.
      const group = await t.api.post('/v1/conversations', { type: 'group', title: 'g', memberIds: [me.id, closed.id] }, them.token);
      expect(group.status).toBe(201);
      expect(group.body.notAdded).toEqual([
        { userId: me.id, reason: 'not_allowed' },
        { userId: closed.id, reason: 'not_allowed' },
      ]);
      const added = await t.api.post(`/v1/conversations/${group.body.id}/members`, { userIds: [me.id] }, them.token);
      expect(added.body.notAdded).toEqual([{ userId: me.id, reason: 'not_allowed' }]);

      // My profile and my name in search are not found.
      expect((await t.api.get(`/v1/users/${me.id}`, them.token)).status).toBe(404);
      expect((await t.api.get(`/v1/users/${me.id}`, them.token)).body).toEqual((await t.api.get('/v1/users/no-such-user', them.token)).body);
      expect((await t.api.get(`/v1/users?query=${me.username}`, them.token)).body.users).toEqual([]);
      // The blocker still sees them (a block hides me from them, not them from me).
      expect((await t.api.get(`/v1/users/${them.id}`, me.token)).status).toBe(200);

      // A connection request goes nowhere, with the ordinary answer.
      const req = await t.api.post(`/v1/connections/${me.id}`, undefined, them.token);
      expect(req.status).toBe(200);
      expect(req.body).toEqual({ state: 'outgoing' });
      expect(await connections(me, 'incoming')).toEqual([]);
      // The other way round too: the blocker's request goes nowhere, with the ordinary answer, and stays nowhere after an unblock.
      const mine = await t.api.post(`/v1/connections/${them.id}`, undefined, me.token);
      expect(mine.status).toBe(200);
      expect(mine.body).toEqual({ state: 'outgoing' });
      expect(await connections(them, 'incoming')).toEqual([]);
      await unblock(me, them);
      expect(await connections(them, 'incoming')).toEqual([]);
      expect(await connections(me, 'incoming')).toEqual([]);
      await block(me, them);

      // A block is not a relationship the blocked side can see in their lists either.
      expect((await t.api.get('/v1/blocks', them.token)).body.blocks).toEqual([]);
    });

    it('stops sends into our direct conversation both ways; unblocking restores it', async () => {
      const me = await t.api.signUp('me2');
      const them = await t.api.signUp('them2');
      await connect(me, them);
      const conv = (await t.api.post('/v1/conversations', { type: 'direct', userId: me.id }, them.token)).body.id;
      expect((await send(them, conv)).status).toBe(201);

      await block(me, them);
      const refused = await send(them, conv);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('messaging_not_allowed');
      expect((await send(me, conv)).status).toBe(403);
      // Reopening the existing conversation is refused the same way.
      expect((await t.api.post('/v1/conversations', { type: 'direct', userId: me.id }, them.token)).status).toBe(403);

      await unblock(me, them);
      expect((await send(them, conv)).status).toBe(201);
      expect((await send(me, conv)).status).toBe(201);
    });

    it('suspends a connection while it lasts; unblocking restores it', async () => {
      const me = await t.api.signUp('me3');
      const them = await t.api.signUp('them3');
      await connect(me, them);
      await t.api.patch('/v1/me/privacy', { whoCanMessage: 'connections' }, me.token);

      await block(me, them);
      expect(await connections(me)).toEqual([]);
      expect(await connections(them)).toEqual([]);
      expect((await t.api.post('/v1/conversations', { type: 'direct', userId: me.id }, them.token)).status).toBe(403);

      await unblock(me, them);
      expect(await connections(me)).toEqual([them.id]);
      expect(await connections(them)).toEqual([me.id]);
      // Connected again, so my "connections only" lets them write to my inbox.
      const conv = await t.api.post('/v1/conversations', { type: 'direct', userId: me.id }, them.token);
      expect(conv.status).toBe(201);
      expect((await t.api.get(`/v1/conversations/${conv.body.id}`, me.token)).body.myState).toBe('active');
    });

    it('in a group we share, messages still flow both ways (the client hides them) and GET /v1/blocks tells the SDK whom to hide', async () => {
      const me = await t.api.signUp('me4');
      const them = await t.api.signUp('them4');
      const host = await t.api.signUp('host4');
      for (const u of [me, them]) await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, u.token);
      const group = await t.api.post('/v1/conversations', { type: 'group', title: 'shared', memberIds: [me.id, them.id] }, host.token);
      expect(group.body.notAdded).toEqual([]);
      await block(me, them);

      const mySocket = await socket(me);
      const sent = await send(them, group.body.id, 'still here');
      expect(sent.status).toBe(201);
      const frame = await mySocket.next('message', (f) => f.envelope.id === sent.body.id);
      expect(frame.envelope.senderId).toBe(them.id);
      expect((await send(me, group.body.id, 'me too')).status).toBe(201);
      expect((await t.api.get('/v1/blocks', me.token)).body.blocks.map((b: any) => b.user.id)).toEqual([them.id]);
    });

    it('blocking someone who sees me online: each last sees the other go offline, and nothing after', async () => {
      const me = await t.api.signUp('me6');
      const them = await t.api.signUp('them6');
      await connect(me, them);
      const myWs = await socket(me);
      const theirWs = await socket(them);
      await myWs.next('presence', (f) => f.userId === them.id && f.status === 'online');
      await theirWs.next('presence', (f) => f.userId === me.id && f.status === 'online');
      await block(me, them);
      expect(await theirWs.next('presence', (f) => f.userId === me.id)).toMatchObject({ status: 'offline', lastSeenAt: null });
      expect(await myWs.next('presence', (f) => f.userId === them.id)).toMatchObject({ status: 'offline', lastSeenAt: null });
      // A second device coming online is not announced across the block.
      const again = await t.api.post('/v1/sessions', { username: me.username, password: 'correct horse battery' });
      const meToo = await socket({ ...me, token: again.body.session.token });
      meToo.close();
      await theirWs.none('presence', (f) => f.userId === me.id);
    });

    it('typing and presence stop crossing the block, both ways', async () => {
      const me = await t.api.signUp('me5');
      const them = await t.api.signUp('them5');
      const friend = await t.api.signUp('friend5');
      await connect(me, them);
      await connect(me, friend);
      await connect(them, friend);
      for (const u of [me, them, friend]) await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone', presence: 'everyone' }, u.token);
      const group = (await t.api.post('/v1/conversations', { type: 'group', title: 'trio', memberIds: [me.id, them.id] }, friend.token)).body.id;
      await block(me, them);

      const myWs = await socket(me);
      const theirWs = await socket(them);
      // `friend` comes online after both: a presence that must arrive proves the sockets deliver.
      const friendWs = await socket(friend);
      await myWs.next('presence', (f) => f.userId === friend.id && f.status === 'online');
      await theirWs.next('presence', (f) => f.userId === friend.id && f.status === 'online');
      expect(myWs.frames.filter((f) => f.type === 'presence' && f.userId === them.id)).toEqual([]);
      expect(theirWs.frames.filter((f) => f.type === 'presence' && f.userId === me.id)).toEqual([]);

      theirWs.send({ type: 'typing', conversationId: group, active: true });
      myWs.send({ type: 'typing', conversationId: group, active: true });
      await friendWs.next('typing', (f) => f.userId === them.id);
      await friendWs.next('typing', (f) => f.userId === me.id);
      friendWs.send({ type: 'typing', conversationId: group, active: true });
      await myWs.next('typing', (f) => f.userId === friend.id);
      await theirWs.next('typing', (f) => f.userId === friend.id);
      expect(myWs.frames.filter((f) => f.type === 'typing' && f.userId === them.id)).toEqual([]);
      expect(theirWs.frames.filter((f) => f.type === 'typing' && f.userId === me.id)).toEqual([]);
    });
  });
}
