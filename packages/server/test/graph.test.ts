import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

for (const dialect of DIALECTS) {
  describe(`connections and privacy settings [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => t?.close());

    const list = async (u: U, state: string) => (await t.api.get(`/v1/connections?state=${state}`, u.token)).body.connections.map((c: any) => c.user.id);

    it('request, accept: both sides see each step', async () => {
      const a = await t.api.signUp('conn_a');
      const b = await t.api.signUp('conn_b');
      const req = await t.api.post(`/v1/connections/${b.id}`, undefined, a.token);
      expect(req.status).toBe(200);
      expect(req.body).toEqual({ state: 'outgoing' });
      expect(await list(a, 'outgoing')).toEqual([b.id]);
      expect(await list(b, 'incoming')).toEqual([a.id]);
      expect(await list(a, 'connected')).toEqual([]);

      // Asking again is idempotent.
      expect((await t.api.post(`/v1/connections/${b.id}`, undefined, a.token)).body).toEqual({ state: 'outgoing' });
      // The requester cannot accept their own request.
      expect((await t.api.post(`/v1/connections/${b.id}/accept`, undefined, a.token)).status).toBe(404);

      const acc = await t.api.post(`/v1/connections/${a.id}/accept`, undefined, b.token);
      expect(acc.status).toBe(200);
      expect(acc.body).toEqual({ state: 'connected' });
      const listed = await t.api.get('/v1/connections', a.token);
      expect(listed.body.connections).toEqual([{ userId: b.id, user: { id: b.id, username: b.username, displayName: b.username, bio: '' }, state: 'connected', since: expect.any(String) }]);
      expect(listed.body.nextCursor).toBeNull();
      expect(await list(b, 'connected')).toEqual([a.id]);
      expect(await list(a, 'outgoing')).toEqual([]);
      expect(await list(b, 'incoming')).toEqual([]);
    });

    it('a request to someone who already requested you connects you both', async () => {
      const a = await t.api.signUp('mutual_a');
      const b = await t.api.signUp('mutual_b');
      await t.api.post(`/v1/connections/${b.id}`, undefined, a.token);
      expect((await t.api.post(`/v1/connections/${a.id}`, undefined, b.token)).body).toEqual({ state: 'connected' });
      expect(await list(a, 'connected')).toEqual([b.id]);
      expect(await list(b, 'connected')).toEqual([a.id]);
    });

    it('cancel removes it from both sides; remove ends a connection for both', async () => {
      const a = await t.api.signUp('cancel_a');
      const b = await t.api.signUp('cancel_b');
      await t.api.post(`/v1/connections/${b.id}`, undefined, a.token);
      expect((await t.api.delete(`/v1/connections/${b.id}`, a.token)).status).toBe(204);
      expect(await list(a, 'outgoing')).toEqual([]);
      expect(await list(b, 'incoming')).toEqual([]);

      await t.api.post(`/v1/connections/${b.id}`, undefined, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, undefined, b.token);
      expect((await t.api.delete(`/v1/connections/${a.id}`, b.token)).status).toBe(204);
      expect(await list(a, 'connected')).toEqual([]);
      expect(await list(b, 'connected')).toEqual([]);
      // Nothing left to remove: still 204.
      expect((await t.api.delete(`/v1/connections/${a.id}`, b.token)).status).toBe(204);
    });

    it('declining is silent: the requester still sees the request pending and cannot re-send it', async () => {
      const a = await t.api.signUp('decl_a');
      const b = await t.api.signUp('decl_b');
      await t.api.post(`/v1/connections/${b.id}`, undefined, a.token);
      expect((await t.api.delete(`/v1/connections/${a.id}`, b.token)).status).toBe(204);
      expect(await list(b, 'incoming')).toEqual([]);
      expect(await list(a, 'outgoing')).toEqual([b.id]);
      expect((await t.api.post(`/v1/connections/${b.id}`, undefined, a.token)).body).toEqual({ state: 'outgoing' });
      expect(await list(b, 'incoming')).toEqual([]);
      // The decliner may still change their mind: asking back connects them.
      expect((await t.api.post(`/v1/connections/${a.id}`, undefined, b.token)).body).toEqual({ state: 'connected' });
      expect(await list(a, 'connected')).toEqual([b.id]);
    });

    it('connecting moves a pending message request between the two into the inbox', async () => {
      const a = await t.api.signUp('req_a');
      const b = await t.api.signUp('req_b');
      const conv = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
      expect(conv.status).toBe(201);
      const sent = await t.api.post(`/v1/conversations/${conv.body.id}/messages`, { clientId: 'first', kind: 'message', content: { encoding: 'plain', data: '{}' } }, a.token);
      expect(sent.status).toBe(201);
      const folder = async (f: string) => (await t.api.get(`/v1/conversations?folder=${f}`, b.token)).body.conversations.map((c: any) => c.id);
      expect(await folder('requests')).toEqual([conv.body.id]);
      const { cursor } = (await t.api.get('/v1/sync', b.token)).body;

      await t.api.post(`/v1/connections/${b.id}`, undefined, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, undefined, b.token);
      expect(await folder('requests')).toEqual([]);
      expect(await folder('inbox')).toEqual([conv.body.id]);
      expect((await t.api.get(`/v1/conversations/${conv.body.id}`, b.token)).body.myState).toBe('active');
      // A device catching up learns of the move.
      const changed = (await t.api.get(`/v1/sync?cursor=${encodeURIComponent(cursor)}`, b.token)).body.conversations;
      expect(changed.map((c: any) => [c.id, c.myState])).toEqual([[conv.body.id, 'active']]);
    });

    it('two people asking each other at the same moment end up consistent, never with a 500', async () => {
      for (let round = 0; round < 5; round++) {
        const a = await t.api.signUp('race_a');
        const b = await t.api.signUp('race_b');
        const [x, y] = await Promise.all([t.api.post(`/v1/connections/${b.id}`, undefined, a.token), t.api.post(`/v1/connections/${a.id}`, undefined, b.token)]);
        expect([x.status, y.status]).toEqual([200, 200]);
        const aSees = [...(await list(a, 'connected')), ...(await list(a, 'incoming')).map((id: string) => `in:${id}`), ...(await list(a, 'outgoing')).map((id: string) => `out:${id}`)];
        const bSees = [...(await list(b, 'connected')), ...(await list(b, 'incoming')).map((id: string) => `in:${id}`), ...(await list(b, 'outgoing')).map((id: string) => `out:${id}`)];
        // Either connected on both sides, or one asked and the other was asked.
        const pairs = [JSON.stringify([aSees, bSees])];
        expect([
          JSON.stringify([[b.id], [a.id]]),
          JSON.stringify([[`in:${b.id}`], [`out:${a.id}`]]),
          JSON.stringify([[`out:${b.id}`], [`in:${a.id}`]]),
        ]).toContain(pairs[0]);
        const [r1, r2] = await Promise.all([t.api.delete(`/v1/connections/${b.id}`, a.token), t.api.delete(`/v1/connections/${a.id}`, b.token)]);
        expect([r1.status, r2.status]).toEqual([204, 204]);
      }
    });

    it('refuses bad input with stable codes', async () => {
      const a = await t.api.signUp('bad_a');
      const self = await t.api.post(`/v1/connections/${a.id}`, undefined, a.token);
      expect(self.status).toBe(400);
      expect(self.body.error).toMatchObject({ code: 'invalid_request', data: { field: 'params.userId' } });
      expect((await t.api.post('/v1/connections/no-such-user', undefined, a.token)).status).toBe(404);
      expect((await t.api.post('/v1/connections/bad%20id', undefined, a.token)).body.error.code).toBe('invalid_request');
      expect((await t.api.post('/v1/connections/no-such-user/accept', undefined, a.token)).status).toBe(404);
      expect((await t.api.delete('/v1/connections/no-such-user', a.token)).status).toBe(404);
      const badState = await t.api.get('/v1/connections?state=friends', a.token);
      expect(badState.status).toBe(400);
      expect(badState.body.error.data.field).toBe('querystring.state');
      expect((await t.api.get('/v1/connections?limit=0', a.token)).status).toBe(400);
      expect((await t.api.get('/v1/connections?limit=201', a.token)).status).toBe(400);
      expect((await t.api.get('/v1/connections?cursor=garbage', a.token)).body.error.code).toBe('invalid_request');
      expect((await t.api.get('/v1/connections')).status).toBe(401);
    });

    it('pages connections with limit and an opaque cursor', async () => {
      const hub = await t.api.signUp('hub');
      const peers: U[] = [];
      for (let i = 0; i < 5; i++) {
        const p = await t.api.signUp(`spoke${i}`);
        await t.api.post(`/v1/connections/${hub.id}`, undefined, p.token);
        peers.push(p);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: any = await t.api.get(`/v1/connections?state=incoming&limit=2${cursor ? `&cursor=${cursor}` : ''}`, hub.token);
        expect(res.status).toBe(200);
        expect(res.body.connections.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.connections.map((c: any) => c.user.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen.sort()).toEqual(peers.map((p) => p.id).sort());
    });

    it('privacy settings: defaults of API.md, partial patch, validation naming the field', async () => {
      const a = await t.api.signUp('priv');
      const got = await t.api.get('/v1/me/privacy', a.token);
      expect(got.status).toBe(200);
      expect(got.body).toEqual({ whoCanMessage: 'everyone', whoCanAddToGroups: 'connections', readReceipts: true, presence: 'connections' });

      const patched = await t.api.patch('/v1/me/privacy', { whoCanMessage: 'connections', readReceipts: false }, a.token);
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual({ whoCanMessage: 'connections', whoCanAddToGroups: 'connections', readReceipts: false, presence: 'connections' });
      expect((await t.api.patch('/v1/me/privacy', { presence: 'nobody', whoCanAddToGroups: 'everyone' }, a.token)).body).toEqual({
        whoCanMessage: 'connections',
        whoCanAddToGroups: 'everyone',
        readReceipts: false,
        presence: 'nobody',
      });
      expect((await t.api.patch('/v1/me/privacy', {}, a.token)).status).toBe(200);

      for (const [body, field] of [
        [{ whoCanMessage: 'friends' }, 'body.whoCanMessage'],
        [{ whoCanAddToGroups: 1 }, 'body.whoCanAddToGroups'],
        [{ readReceipts: 'yes' }, 'body.readReceipts'],
        [{ presence: null }, 'body.presence'],
      ] as const) {
        const res = await t.api.patch('/v1/me/privacy', body, a.token);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe('invalid_request');
        expect(res.body.error.data.field).toBe(field);
      }
      const unknown = await t.api.patch('/v1/me/privacy', { lastSeen: 'nobody' }, a.token);
      expect(unknown.status).toBe(400);
      expect((await t.api.patch('/v1/me/privacy', 'nope', a.token)).status).toBe(400);
      // Nothing of the refused patches was applied.
      expect((await t.api.get('/v1/me/privacy', a.token)).body.presence).toBe('nobody');
    });

    it('documents its routes in the OpenAPI reference', async () => {
      const { body } = await t.api.get('/v1/openapi.json');
      for (const p of ['/v1/connections', '/v1/connections/{userId}', '/v1/connections/{userId}/accept', '/v1/me/privacy', '/v1/blocks', '/v1/blocks/{userId}']) {
        expect(Object.keys(body.paths), p).toContain(p);
      }
      expect(body.paths['/v1/me/privacy'].patch.summary).toBeTruthy();
      expect(body.paths['/v1/me/privacy'].patch.tags).toEqual(['privacy']);
    });
  });
}
