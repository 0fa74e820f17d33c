import { AccountExport } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import { WsClient } from './realtime-client.ts';

const PASSWORD = 'correct horse battery';
type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

for (const dialect of DIALECTS) {
  describe(`account export and deletion [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect, { operatorToken: 'operator-token-for-tests-0123456789' });
    });
    afterAll(async () => t?.close());

    let n = 0;
    async function send(u: U, conversationId: string, text: string): Promise<string> {
      const res = await t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: `m${++n}`, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text }) } }, u.token);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.id;
    }
    async function connect(a: U, b: U) {
      await t.api.post(`/v1/connections/${b.id}`, undefined, a.token);
      expect((await t.api.post(`/v1/connections/${a.id}/accept`, undefined, b.token)).status).toBe(200);
    }

    /** Alice with a life on the server: settings, two devices, a connection, a request, a block, a direct chat, a group, a report. */
    async function populated() {
      const alice = await t.api.signUp('alice', { displayName: 'Alice A' });
      const bob = await t.api.signUp('bob');
      const carol = await t.api.signUp('carol');
      const troll = await t.api.signUp('troll');
      await t.api.patch('/v1/me', { bio: 'hello there' }, alice.token);
      await t.api.patch('/v1/me/privacy', { presence: 'nobody', readReceipts: false }, alice.token);
      const phone = await t.api.post('/v1/sessions', { username: alice.username, password: PASSWORD, deviceName: 'phone' });
      await connect(alice, bob);
      await connect(alice, carol);
      await t.api.post(`/v1/connections/${alice.id}`, undefined, troll.token);
      const direct = (await t.api.post('/v1/conversations', { type: 'direct', userId: bob.id }, alice.token)).body.id as string;
      const mine = await send(alice, direct, 'hi bob, from alice');
      const theirs = await send(bob, direct, 'hi alice, from bob');
      const group = await t.api.post('/v1/conversations', { type: 'group', title: 'Book club', memberIds: [bob.id, carol.id] }, alice.token);
      expect(group.body.notAdded).toEqual([]);
      const inGroup = await send(alice, group.body.id, 'welcome to the book club');
      const trollConv = (await t.api.post('/v1/conversations', { type: 'direct', userId: alice.id }, troll.token)).body.id as string;
      const trollMsg = await send(troll, trollConv, 'you again');
      const report = await t.api.post('/v1/reports', { conversationId: trollConv, messageIds: [trollMsg], reason: 'harassment', block: true }, alice.token);
      expect(report.status).toBe(201);
      return { alice, bob, carol, troll, phone: phone.body.session, direct, group: group.body.id as string, mine, theirs, inGroup, reportId: report.body.id as string };
    }

    it('exports everything held about me, and only what is mine', async () => {
      const w = await populated();
      const res = await t.api.get('/v1/me/export', w.alice.token);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-disposition')).toContain('attachment');
      const data = AccountExport.parse(res.body);
      expect(data.profile).toMatchObject({ id: w.alice.id, username: w.alice.username, displayName: 'Alice A', bio: 'hello there' });
      expect(data.settings).toEqual({ whoCanMessage: 'everyone', whoCanAddToGroups: 'connections', readReceipts: false, presence: 'nobody' });
      expect(data.sessions.map((s) => s.id).sort()).toEqual([w.alice.sessionId, w.phone.id].sort());
      expect(data.sessions.find((s) => s.current)?.id).toBe(w.alice.sessionId);
      expect(data.sessions.find((s) => s.id === w.phone.id)?.deviceName).toBe('phone');
      expect(data.connections).toEqual(
        expect.arrayContaining([
          { userId: w.bob.id, state: 'connected', since: expect.any(String) },
          { userId: w.carol.id, state: 'connected', since: expect.any(String) },
          { userId: w.troll.id, state: 'incoming', since: expect.any(String) },
        ]),
      );
      expect(data.blocks).toEqual([{ userId: w.troll.id, createdAt: expect.any(String) }]);
      const direct = data.conversations.find((c) => c.id === w.direct)!;
      expect(direct).toMatchObject({ type: 'direct', state: 'active' });
      expect(direct.members.map((m) => m.userId).sort()).toEqual([w.alice.id, w.bob.id].sort());
      expect(data.conversations.find((c) => c.id === w.group)).toMatchObject({ type: 'group', title: 'Book club', role: 'owner' });
      const sent = data.envelopes.filter((m) => m.kind === 'message').map((m) => m.id);
      expect(sent).toEqual(expect.arrayContaining([w.mine, w.inGroup]));
      expect(sent).not.toContain(w.theirs);
      expect(data.envelopes.every((m) => m.senderId === w.alice.id)).toBe(true);
      expect(data.envelopes.find((m) => m.id === w.mine)?.content).toEqual({ encoding: 'plain', data: JSON.stringify({ type: 'text', text: 'hi bob, from alice' }) });
      expect(data.reports).toEqual([expect.objectContaining({ id: w.reportId, reason: 'harassment', status: 'open' })]);
      // Secrets never leave: no password hash, no token hash.
      const text = JSON.stringify(res.body);
      expect(text).not.toMatch(/argon2|password|token_hash/i);
      expect(text).not.toContain(w.alice.token);
      expect((await t.api.get('/v1/me/export')).status).toBe(401);
    });

    it('refuses deletion without the right password', async () => {
      const u = await t.api.signUp('careful');
      const wrong = await t.api.delete('/v1/me', u.token, { password: 'not my password' });
      expect(wrong.status).toBe(403);
      expect(wrong.body.error.code).toBe('forbidden');
      const missing = await t.api.delete('/v1/me', u.token, {});
      expect(missing.status).toBe(400);
      expect(missing.body.error.data.field).toBe('body.password');
      expect((await t.api.delete('/v1/me', u.token)).status).toBe(400);
      expect((await t.api.get('/v1/me', u.token)).status).toBe(200);
    });

    it('deletes the account: signed out everywhere, name freed, a tombstone in others’ conversations', async () => {
      const w = await populated();
      const { client: phoneSocket } = await WsClient.connect(t.wsUrl, w.phone.token);
      const res = await t.api.delete('/v1/me', w.alice.token, { password: PASSWORD });
      expect(res.status).toBe(204);
      // Her other device's socket hears it and closes at once.
      await phoneSocket.next('session.revoked');
      await phoneSocket.waitClosed();

      // Every device is signed out, and the credentials are gone (same answer as an unknown user).
      expect((await t.api.get('/v1/me', w.alice.token)).status).toBe(401);
      expect((await t.api.get('/v1/me', w.phone.token)).status).toBe(401);
      const signIn = await t.api.post('/v1/sessions', { username: w.alice.username, password: PASSWORD });
      const unknown = await t.api.post('/v1/sessions', { username: 'never_existed_x', password: PASSWORD });
      expect(signIn.status).toBe(401);
      expect(signIn.body).toEqual(unknown.body);

      // Others see a deleted account, never the old name.
      const profile = await t.api.get(`/v1/users/${w.alice.id}`, w.bob.token);
      expect(profile.status).toBe(200);
      expect(profile.body).toEqual({ id: w.alice.id, username: 'deleted', displayName: 'Deleted account', bio: '', deleted: true });
      expect(JSON.stringify(profile.body)).not.toContain(w.alice.username);
      expect((await t.api.get(`/v1/users?query=${w.alice.username}`, w.bob.token)).body.users).toEqual([]);

      // Connections and blocks, both ways, are erased.
      expect((await t.api.get('/v1/connections', w.bob.token)).body.connections).toEqual([]);
      expect((await t.api.get('/v1/connections?state=outgoing', w.troll.token)).body.connections).toEqual([]);

      // Bob keeps the direct conversation and its whole history, but cannot write to a deleted account.
      const conv = await t.api.get(`/v1/conversations/${w.direct}`, w.bob.token);
      expect(conv.status).toBe(200);
      expect(conv.body.members.map((m: any) => m.userId)).toContain(w.alice.id);
      const history = await t.api.get(`/v1/conversations/${w.direct}/messages?after=0`, w.bob.token);
      expect(history.body.messages.map((m: any) => m.id)).toEqual(expect.arrayContaining([w.mine, w.theirs]));
      const reply = await t.api.post(`/v1/conversations/${w.direct}/messages`, { clientId: 'to-the-void', kind: 'message', content: { encoding: 'plain', data: '{}' } }, w.bob.token);
      expect(reply.status).toBe(403);
      expect(reply.body.error.code).toBe('messaging_not_allowed');
      // Nobody opens a new conversation with it: it is not found.
      expect((await t.api.post('/v1/conversations', { type: 'direct', userId: w.alice.id }, w.carol.token)).status).toBe(404);

      // The group lives on without her; ownership passed on; her message stays in the history.
      const group = await t.api.get(`/v1/conversations/${w.group}`, w.bob.token);
      expect(group.status).toBe(200);
      expect(group.body.members.map((m: any) => m.userId)).not.toContain(w.alice.id);
      expect(group.body.members.filter((m: any) => m.role === 'owner')).toHaveLength(1);
      const groupHistory = await t.api.get(`/v1/conversations/${w.group}/messages?after=0`, w.carol.token);
      expect(groupHistory.body.messages.map((m: any) => m.id)).toContain(w.inGroup);
      expect(groupHistory.body.messages.some((m: any) => m.kind === 'system' && m.senderId === w.alice.id)).toBe(true);

      // The report she filed is kept for moderation.
      const report = await t.api.call('GET', `/v1/admin/reports/${w.reportId}`, { token: 'operator-token-for-tests-0123456789' });
      expect(report.status).toBe(200);

      // The username is free again, for someone else.
      const again = await t.api.post('/v1/accounts', { username: w.alice.username, password: 'another password' });
      expect(again.status).toBe(201);
      expect(again.body.user.id).not.toBe(w.alice.id);
      expect((await t.api.get(`/v1/users/${w.alice.id}`, again.body.session.token)).body.deleted).toBe(true);
    });

    it('a deleted account cannot be connected to, blocked or added to a group', async () => {
      const gone = await t.api.signUp('gone');
      const other = await t.api.signUp('other');
      expect((await t.api.delete('/v1/me', gone.token, { password: PASSWORD })).status).toBe(204);
      expect((await t.api.post(`/v1/connections/${gone.id}`, undefined, other.token)).status).toBe(404);
      expect((await t.api.put(`/v1/blocks/${gone.id}`, undefined, other.token)).status).toBe(404);
      const group = await t.api.post('/v1/conversations', { type: 'group', title: 'x', memberIds: [gone.id] }, other.token);
      expect(group.status).toBe(201);
      expect(group.body.notAdded).toEqual([{ userId: gone.id, reason: 'not_found' }]);
    });
  });
}
