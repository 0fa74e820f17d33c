import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './harness.ts';
import { busVariants, WsClient, type Frame } from './realtime-client.ts';

type User = Awaited<ReturnType<TestServer['api']['signUp']>>;

for (const { dialect, bus, config } of await busVariants()) {
  describe(`presence [${dialect}, ${bus} bus]`, () => {
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
    const setPresence = async (u: User, presence: string, extra: Record<string, unknown> = {}) =>
      expect((await t.api.patch('/v1/me/privacy', { presence, ...extra }, u.token)).status).toBe(200);
    const closeAndWait = async (c: WsClient) => {
      c.close();
      await c.waitClosed();
    };
    const ofUser = (id: string) => (f: Frame) => f.userId === id;

    beforeAll(async () => {
      t = await startTestServer(dialect, config);
    });
    afterAll(async () => {
      for (const c of open) c.close();
      await t?.close();
    });

    it('connections see each other come online and go offline, with last seen stored', async () => {
      const a = await t.api.signUp('pa');
      const b = await t.api.signUp('pb');
      await connectUsers(a, b);
      const aWs = await connect(a.token);
      const bWs = await connect(b.token);
      expect(await aWs.next('presence', ofUser(b.id))).toMatchObject({ type: 'presence', userId: b.id, status: 'online' });
      // The one who arrived second learns who is already online right after ready.
      expect(await bWs.next('presence', ofUser(a.id))).toMatchObject({ userId: a.id, status: 'online' });

      await closeAndWait(bWs);
      const offline = await aWs.next('presence', (f) => f.userId === b.id && f.status === 'offline');
      expect(Date.parse(offline.lastSeenAt)).not.toBeNaN();
      const row = await t.server.ctx.db.selectFrom('users').select('last_seen_at').where('id', '=', b.id).executeTakeFirstOrThrow();
      expect(row.last_seen_at).toBe(offline.lastSeenAt);
    });

    it('stays online while any device is connected', async () => {
      const a = await t.api.signUp('pc');
      const b = await t.api.signUp('pd');
      await connectUsers(a, b);
      const aWs = await connect(a.token);
      const b1 = await connect(b.token);
      await aWs.next('presence', ofUser(b.id));
      const second = await t.api.post('/v1/sessions', { username: b.username, password: 'correct horse battery' });
      const b2 = await connect(second.body.session.token);
      await closeAndWait(b1);
      await aWs.sync();
      await aWs.none('presence', ofUser(b.id));
      await closeAndWait(b2);
      expect(await aWs.next('presence', ofUser(b.id))).toMatchObject({ status: 'offline' });
    });

    it('presence "nobody" shows nothing, even to connections', async () => {
      const a = await t.api.signUp('pe');
      const b = await t.api.signUp('pf');
      await connectUsers(a, b);
      await setPresence(b, 'nobody');
      const aWs = await connect(a.token);
      const bWs = await connect(b.token);
      await closeAndWait(bWs);
      // A later presence change of someone else proves the socket is delivering.
      const c = await t.api.signUp('pg');
      await connectUsers(a, c);
      const cWs = await connect(c.token);
      await aWs.next('presence', ofUser(c.id));
      await aWs.none('presence', ofUser(b.id));
      const bAgain = await connect(b.token);
      await bAgain.sync();
      await aWs.none('presence', ofUser(b.id));
      await cWs.sync();
    });

    it('presence "connections" hides it from a stranger in a shared group; "everyone" shows it', async () => {
      const owner = await t.api.signUp('ph');
      const member = await t.api.signUp('pi');
      const stranger = await t.api.signUp('pj');
      await connectUsers(owner, member);
      await connectUsers(owner, stranger);
      // member and stranger share the group but are not connected.
      await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, member.token);
      await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, stranger.token);
      const group = await t.api.post('/v1/conversations', { type: 'group', title: 'Mixed', memberIds: [member.id, stranger.id] }, owner.token);
      expect(group.body.notAdded).toEqual([]);
      const strangerWs = await connect(stranger.token);
      const ownerWs = await connect(owner.token);
      await strangerWs.next('presence', ofUser(owner.id));
      const memberWs = await connect(member.token);
      await ownerWs.next('presence', ofUser(member.id));
      await strangerWs.none('presence', ofUser(member.id));

      await setPresence(member, 'everyone');
      await closeAndWait(memberWs);
      await ownerWs.next('presence', (f) => f.userId === member.id && f.status === 'offline');
      await strangerWs.next('presence', (f) => f.userId === member.id && f.status === 'offline');
      const memberAgain = await connect(member.token);
      expect(await strangerWs.next('presence', ofUser(member.id))).toMatchObject({ status: 'online' });
      // And the stranger (presence "connections") stays hidden from the member.
      await memberAgain.sync();
      await memberAgain.none('presence', ofUser(stranger.id));
    });

    it('never crosses a block, either way', async () => {
      const a = await t.api.signUp('pk');
      const b = await t.api.signUp('pl');
      await setPresence(a, 'everyone', { whoCanAddToGroups: 'everyone' });
      await setPresence(b, 'everyone', { whoCanAddToGroups: 'everyone' });
      const host = await t.api.signUp('pm');
      const group = await t.api.post('/v1/conversations', { type: 'group', title: 'Shared', memberIds: [a.id, b.id] }, host.token);
      expect(group.body.notAdded).toEqual([]);
      expect((await t.api.put(`/v1/blocks/${b.id}`, {}, a.token)).status).toBeLessThan(300);
      const hostWs = await connect(host.token);
      const aWs = await connect(a.token);
      await hostWs.next('presence', ofUser(a.id));
      const bWs = await connect(b.token);
      await hostWs.next('presence', ofUser(b.id));
      // b learned nothing of a (the blocker), a nothing of b (the blocked).
      await bWs.sync();
      await bWs.none('presence', ofUser(a.id));
      await aWs.none('presence', ofUser(b.id));
      await closeAndWait(aWs);
      await hostWs.next('presence', (f) => f.userId === a.id && f.status === 'offline');
      await bWs.none('presence', ofUser(a.id));
    });

    it('a block or a tighter setting takes an online user out of sight at once; loosening it, or connecting, shows them', async () => {
      const a = await t.api.signUp('pq');
      const b = await t.api.signUp('pr');
      const c = await t.api.signUp('ps');
      await connectUsers(a, b);
      await connectUsers(a, c);
      const bWs = await connect(b.token);
      const cWs = await connect(c.token);
      const aWs = await connect(a.token);
      await bWs.next('presence', ofUser(a.id));
      await cWs.next('presence', ofUser(a.id));
      expect(await aWs.next('presence', ofUser(b.id))).toMatchObject({ status: 'online' });

      expect((await t.api.put(`/v1/blocks/${b.id}`, {}, a.token)).status).toBeLessThan(300);
      expect(await bWs.next('presence', ofUser(a.id))).toEqual({ type: 'presence', userId: a.id, status: 'offline', lastSeenAt: null });
      expect(await aWs.next('presence', ofUser(b.id))).toMatchObject({ status: 'offline', lastSeenAt: null });

      await setPresence(a, 'nobody');
      expect(await cWs.next('presence', ofUser(a.id))).toMatchObject({ status: 'offline', lastSeenAt: null });
      await setPresence(a, 'connections');
      expect(await cWs.next('presence', ofUser(a.id))).toMatchObject({ status: 'online' });
      // Still nothing for the blocked one.
      await cWs.sync();
      await bWs.none('presence', (f) => f.userId === a.id && f.status === 'online');

      // Two online strangers who connect see each other at once.
      const d = await t.api.signUp('pt');
      const dWs = await connect(d.token);
      await connectUsers(c, d);
      expect(await cWs.next('presence', ofUser(d.id))).toMatchObject({ status: 'online' });
      expect(await dWs.next('presence', ofUser(c.id))).toMatchObject({ status: 'online' });
    });

    it('the sender of an unanswered message request sees nothing of the recipient', async () => {
      const sender = await t.api.signUp('pn');
      const recipient = await t.api.signUp('po');
      await setPresence(recipient, 'everyone');
      await setPresence(sender, 'everyone');
      const conv = await t.api.post('/v1/conversations', { type: 'direct', userId: recipient.id }, sender.token);
      expect(conv.status).toBe(201);
      const first = await t.api.post(`/v1/conversations/${conv.body.id}/messages`, { clientId: 'req-1', kind: 'message', content: { encoding: 'plain', data: '"hi"' } }, sender.token);
      expect(first.status).toBe(201);
      const senderWs = await connect(sender.token);
      const recipientWs = await connect(recipient.token);
      // The recipient may see who is knocking; the sender learns nothing until accepted.
      await recipientWs.next('presence', ofUser(sender.id));
      await senderWs.sync();
      await senderWs.none('presence', ofUser(recipient.id));

      expect((await t.api.post(`/v1/conversations/${conv.body.id}/accept`, {}, recipient.token)).status).toBeLessThan(300);
      await closeAndWait(recipientWs);
      expect(await senderWs.next('presence', ofUser(recipient.id))).toMatchObject({ status: 'offline' });
    });
  });
}
