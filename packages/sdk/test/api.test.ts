import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from '@parley/server/testing';
import { ApiError, ParleyApi } from '../src/index.ts';
import { signedUpClient } from './support.ts';

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected the call to fail');
}

for (const dialect of DIALECTS) {
  describe(`SDK HTTP API [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => t?.close());

    it('signs up and in, keeps the token, and throws ApiError keyed on code', async () => {
      const api = new ParleyApi({ baseUrl: t.url });
      const username = `sdk_${Math.random().toString(36).slice(2, 10)}`;
      const { user, session } = await api.accounts.signUp({ username, password: 'correct horse battery', displayName: 'Ada' });
      expect(api.token).toBe(session.token);
      expect(await api.me.get()).toMatchObject({ id: user.id, username, displayName: 'Ada' });

      const taken = await failure(new ParleyApi({ baseUrl: t.url }).accounts.signUp({ username: username.toUpperCase(), password: 'another password' }));
      expect(taken).toMatchObject({ code: 'username_taken', status: 409 });

      const bad = await failure(new ParleyApi({ baseUrl: t.url }).accounts.signUp({ username: 'ab', password: 'correct horse battery' }));
      expect(bad.code).toBe('invalid_request');
      expect(bad.data?.field).toBe('body.username');

      const wrong = await failure(new ParleyApi({ baseUrl: t.url }).accounts.signIn({ username, password: 'not the password' }));
      expect(wrong).toMatchObject({ code: 'unauthorized', status: 401 });

      const other = new ParleyApi({ baseUrl: t.url });
      await other.accounts.signIn({ username, password: 'correct horse battery', deviceName: 'phone' });
      const sessions = await api.sessions.list();
      expect(sessions).toHaveLength(2);
      const phone = sessions.find((s) => !s.current)!;
      expect(phone.deviceName).toBe('phone');
      await api.sessions.revoke(phone.id);
      expect((await failure(other.me.get())).code).toBe('unauthorized');
    });

    it('reports a server that cannot be reached as network_error (status 0, transient)', async () => {
      const api = new ParleyApi({ baseUrl: 'http://127.0.0.1:1' });
      const err = await failure(api.me.get());
      expect(err).toMatchObject({ code: 'network_error', status: 0, transient: true });
    });

    it('changes the profile, privacy settings and password', async () => {
      const { client } = await signedUpClient(t, 'prof');
      expect(await client.me.update({ displayName: 'New Name', bio: 'hi' })).toMatchObject({ displayName: 'New Name', bio: 'hi' });
      expect(await client.privacy.get()).toEqual({ whoCanMessage: 'everyone', whoCanAddToGroups: 'connections', readReceipts: true, presence: 'connections' });
      expect(await client.privacy.update({ readReceipts: false })).toMatchObject({ readReceipts: false });
      expect((await failure(client.privacy.update({ whoCanMessage: 'martians' as never }))).code).toBe('invalid_request');
      expect((await failure(client.me.changePassword('wrong one!', 'a brand new password'))).status).toBe(403);
      await client.me.changePassword('correct horse battery', 'a brand new password');
    });

    it('pages a search with its cursor until nextCursor is null', async () => {
      const prefix = `sp${Math.random().toString(36).slice(2, 6)}`;
      const people = [];
      for (let i = 0; i < 3; i++) people.push(await signedUpClient(t, prefix));
      const seen: string[] = [];
      let page = await people[0]!.client.users.searchPage(prefix, { limit: 1 });
      seen.push(...page.users.map((u) => u.id));
      while (page.nextCursor) {
        page = await people[0]!.client.users.searchPage(prefix, { limit: 1, cursor: page.nextCursor });
        seen.push(...page.users.map((u) => u.id));
      }
      expect(seen.sort()).toEqual(people.map((p) => p.id).sort());
      expect((await failure(people[0]!.client.users.searchPage(prefix, { limit: 201 }))).code).toBe('invalid_request');
    });

    it('finds users, connects, blocks (a blocker is not found)', async () => {
      const a = await signedUpClient(t, 'conn_a');
      const b = await signedUpClient(t, 'conn_b');
      expect((await a.client.users.search(b.username)).map((u) => u.id)).toContain(b.id);
      expect((await a.client.users.get(b.id)).username).toBe(b.username);

      expect(await a.client.connections.request(b.id)).toEqual({ state: 'outgoing' });
      expect((await b.client.connections.list({ state: 'incoming' })).connections.map((c) => c.user.id)).toEqual([a.id]);
      expect(await b.client.connections.accept(a.id)).toEqual({ state: 'connected' });
      expect((await a.client.connections.list()).connections.map((c) => c.user.id)).toEqual([b.id]);
      await a.client.connections.remove(b.id);
      expect((await a.client.connections.list()).connections).toEqual([]);

      await b.client.blocks.add(a.id);
      expect((await b.client.blocks.list()).blocks.map((x) => x.user.id)).toEqual([a.id]);
      expect((await b.client.blocks.all()).map((x) => x.user.id)).toEqual([a.id]);
      expect((await failure(a.client.users.get(b.id))).code).toBe('not_found');
      await b.client.blocks.remove(a.id);
      expect((await b.client.blocks.list()).blocks).toEqual([]);
    });

    it('opens conversations, manages a group, members, invites, settings', async () => {
      const a = await signedUpClient(t, 'grp_a');
      const b = await signedUpClient(t, 'grp_b');
      const c = await signedUpClient(t, 'grp_c');
      // Groups take connections by default.
      await a.client.connections.request(b.id);
      await b.client.connections.accept(a.id);

      const dm = await a.client.conversations.create({ type: 'direct', userId: b.id });
      expect(dm.type).toBe('direct');
      const again = await a.client.conversations.create({ type: 'direct', userId: b.id });
      expect(again.id).toBe(dm.id);

      const group = await a.client.conversations.create({ type: 'group', title: 'Climbing', memberIds: [b.id, c.id] });
      expect(group.members.map((m) => m.userId).sort()).toEqual([a.id, b.id].sort());
      expect(group.notAdded).toEqual([{ userId: c.id, reason: 'not_allowed' }]);
      expect((await a.client.conversations.update(group.id, { title: 'Bouldering' })).title).toBe('Bouldering');
      expect((await a.client.conversations.get(group.id)).title).toBe('Bouldering');
      expect((await failure(c.client.conversations.get(group.id))).code).toBe('not_found');

      const { token } = await a.client.invites.create(group.id);
      expect((await c.client.invites.join(token)).id).toBe(group.id);
      expect((await a.client.members.setRole(group.id, c.id, 'admin')).members.find((m) => m.userId === c.id)?.role).toBe('admin');
      await a.client.members.remove(group.id, c.id);
      expect((await a.client.conversations.get(group.id)).members.map((m) => m.userId)).not.toContain(c.id);

      expect((await b.client.conversations.settings(group.id, { muted: true })).muted).toBe(true);
      const list = await b.client.conversations.list();
      expect(list.conversations.map((x) => x.id)).toEqual(expect.arrayContaining([dm.id, group.id]));
      expect(list.nextCursor).toBeNull();
    });

    it('answers message requests, posts, pages, unsends and marks messages; syncs; reports', async () => {
      const a = await signedUpClient(t, 'msg_a');
      const b = await signedUpClient(t, 'msg_b');
      const dm = await a.client.conversations.create({ type: 'direct', userId: b.id });
      const plain = (text: string) => ({ encoding: 'plain' as const, data: JSON.stringify({ type: 'text', text }) });
      const first = await a.client.messages.post(dm.id, { clientId: 'c-1', kind: 'message', content: plain('one') });
      const retried = await a.client.messages.post(dm.id, { clientId: 'c-1', kind: 'message', content: plain('one') });
      expect(retried).toEqual(first);

      const requests = await b.client.conversations.list({ folder: 'requests' });
      expect(requests.conversations.map((x) => x.id)).toContain(dm.id);
      expect((await b.client.conversations.accept(dm.id)).myState).toBe('active');
      for (let i = 2; i <= 5; i++) await a.client.messages.post(dm.id, { clientId: `c-${i}`, kind: 'message', content: plain(String(i)) });

      const all = await b.client.messages.history(dm.id, { after: 0 });
      expect(all.map((m) => m.clientId)).toEqual(['c-1', 'c-2', 'c-3', 'c-4', 'c-5']);
      const seqs = all.map((m) => m.seq);
      expect(await b.client.messages.history(dm.id, { after: seqs[1], limit: 2 })).toMatchObject([{ seq: seqs[2] }, { seq: seqs[3] }]);
      expect(await b.client.messages.history(dm.id, { before: seqs[2], limit: 10 })).toMatchObject([{ seq: seqs[0] }, { seq: seqs[1] }]);
      expect((await failure(b.client.messages.history(dm.id, { after: 1, before: 3 }))).code).toBe('invalid_request');

      await a.client.messages.delete(dm.id, first.id);
      const after = await b.client.messages.history(dm.id, { after: 0 });
      expect(after.find((m) => m.id === first.id)?.content).toBeNull();
      expect(after.at(-1)).toMatchObject({ kind: 'delete', refs: { target: first.id } });

      expect((await b.client.markers.read(dm.id, seqs[4]!)).seq).toBe(seqs[4]);
      expect((await b.client.markers.delivered(dm.id, seqs[4]!)).seq).toBe(seqs[4]);

      const full = await b.client.sync();
      expect(full.conversations.find((x) => x.id === dm.id)?.lastSeq).toBe(after.at(-1)!.seq);
      expect((await failure(b.client.sync('not-a-cursor'))).code).toBe('invalid_request');
      const none = await b.client.sync(full.cursor);
      expect(none.conversations).toEqual([]);
      await a.client.messages.post(dm.id, { clientId: 'c-6', kind: 'message', content: plain('six') });
      expect((await b.client.sync(full.cursor)).conversations.map((x) => x.id)).toEqual([dm.id]);

      const last = after[4]!;
      const report = await b.client.reports.create({ conversationId: dm.id, messageIds: [last.id], reason: 'spam', evidence: [{ messageId: last.id, senderId: a.id, content: '5' }], block: true });
      expect(report.id).toBeTruthy();
      expect((await b.client.blocks.all()).map((x) => x.user.id)).toContain(a.id);
    });

    it('uploads, attaches, downloads and deletes files; pins messages', async () => {
      const a = await signedUpClient(t, 'att_a');
      const b = await signedUpClient(t, 'att_b');
      await a.client.connections.request(b.id);
      await b.client.connections.accept(a.id);
      const dm = await a.client.conversations.create({ type: 'direct', userId: b.id });
      const bytes = new TextEncoder().encode('not really a png, but bytes all the same');
      const attachment = await a.client.attachments.upload(bytes, { contentType: 'image/png', filename: 'cat.png' });
      expect(attachment).toMatchObject({ size: bytes.length, contentType: 'image/png' });
      expect((await a.client.attachments.usage()).usedBytes).toBeGreaterThanOrEqual(bytes.length);
      const spare = await a.client.attachments.upload(new Uint8Array([1, 2, 3]));
      await a.client.attachments.delete(spare.id);
      expect((await failure(a.client.attachments.download(spare.id))).code).toBe('not_found');

      const ack = await a.client.messages.post(dm.id, {
        clientId: 'with-file',
        kind: 'message',
        content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: 'a cat' }) },
        attachmentIds: [attachment.id],
      });
      // Once a message lists it, a member may download it, and its uploader may no longer delete it.
      const got = await b.client.attachments.download(attachment.id);
      expect(new TextDecoder().decode(got.bytes)).toBe('not really a png, but bytes all the same');
      expect(got.contentType).toBe('image/png');
      expect((await failure(a.client.attachments.delete(attachment.id))).code).toBe('conflict');

      const pin = await a.client.pins.add(dm.id, ack.id);
      expect(pin).toMatchObject({ messageId: ack.id, seq: ack.seq, pinnedBy: a.id });
      expect((await a.client.pins.list(dm.id)).map((p) => p.messageId)).toEqual([ack.id]);
      await a.client.pins.remove(dm.id, ack.id);
      expect(await a.client.pins.list(dm.id)).toEqual([]);
    });
  });
}
