import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';

for (const dialect of DIALECTS) {
  describe(`accounts and sessions [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => t?.close());

    it('signs up, answers 409 username_taken case-insensitively', async () => {
      const res = await t.api.post('/v1/accounts', { username: 'Alice_1', password: 'correct horse battery', displayName: 'Alice', deviceName: 'laptop' });
      expect(res.status).toBe(201);
      expect(res.body.user).toMatchObject({ username: 'alice_1', displayName: 'Alice', bio: '' });
      expect(res.body.session.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const again = await t.api.post('/v1/accounts', { username: 'ALICE_1', password: 'another password' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('username_taken');
    });

    it('keeps the name a deleted account is shown under: "deleted" is taken, in any case', async () => {
      for (const username of ['deleted', 'Deleted', 'DELETED']) {
        const res = await t.api.post('/v1/accounts', { username, password: 'correct horse battery', displayName: 'Deleted account' });
        expect(res.status).toBe(409);
        expect(res.body.error).toMatchObject({ code: 'username_taken' });
      }
      // Names that only begin with it are anyone's.
      expect((await t.api.post('/v1/accounts', { username: 'deleted_not', password: 'correct horse battery' })).status).toBe(201);
    });

    it('refuses bad sign-up input with invalid_request naming the field', async () => {
      for (const body of [
        { username: 'ab', password: 'correct horse battery' },
        { username: 'has space', password: 'correct horse battery' },
        { username: 'valid_name', password: 'short' },
        { username: 'valid_name', password: 'x'.repeat(1025) },
        { password: 'correct horse battery' },
        'not json at all',
        [],
      ]) {
        const res = await t.api.post('/v1/accounts', body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe('invalid_request');
      }
      const bad = await t.api.post('/v1/accounts', { username: 'ab', password: 'correct horse battery' });
      expect(bad.body.error.data.field).toBe('body.username');
    });

    it('signs in; a wrong password and an unknown user get the same answer', async () => {
      const u = await t.api.signUp('bob');
      const ok = await t.api.post('/v1/sessions', { username: u.username.toUpperCase(), password: 'correct horse battery', deviceName: 'phone' });
      expect(ok.status).toBe(201);
      expect(ok.body.user.id).toBe(u.id);
      const wrong = await t.api.post('/v1/sessions', { username: u.username, password: 'wrong password!' });
      const unknown = await t.api.post('/v1/sessions', { username: 'nobody_here', password: 'wrong password!' });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body).toEqual(unknown.body);
    });

    it('lists sessions, marks the current one, and revokes another at once', async () => {
      const u = await t.api.signUp('carol');
      const second = await t.api.post('/v1/sessions', { username: u.username, password: 'correct horse battery', deviceName: 'tablet' });
      const list = await t.api.get('/v1/sessions', u.token);
      expect(list.status).toBe(200);
      expect(list.body.sessions).toHaveLength(2);
      expect(list.body.sessions.find((s: any) => s.current).id).toBe(u.sessionId);
      expect(list.body.sessions.find((s: any) => !s.current).deviceName).toBe('tablet');

      expect((await t.api.get('/v1/me', second.body.session.token)).status).toBe(200);
      expect((await t.api.delete(`/v1/sessions/${second.body.session.id}`, u.token)).status).toBe(204);
      const after = await t.api.get('/v1/me', second.body.session.token);
      expect(after.status).toBe(401);
      expect(after.body.error.code).toBe('unauthorized');
    });

    it('cannot revoke someone else’s session: not found', async () => {
      const a = await t.api.signUp('dave');
      const b = await t.api.signUp('erin');
      const res = await t.api.delete(`/v1/sessions/${b.sessionId}`, a.token);
      expect(res.status).toBe(404);
      expect((await t.api.get('/v1/me', b.token)).status).toBe(200);
    });

    it('signing out the current session ends it', async () => {
      const u = await t.api.signUp('frank');
      expect((await t.api.delete(`/v1/sessions/${u.sessionId}`, u.token)).status).toBe(204);
      expect((await t.api.get('/v1/me', u.token)).status).toBe(401);
    });

    it('reads and changes the profile', async () => {
      const u = await t.api.signUp('gina');
      const patched = await t.api.patch('/v1/me', { displayName: 'Gina G', bio: 'hello' }, u.token);
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ id: u.id, displayName: 'Gina G', bio: 'hello' });
      expect((await t.api.patch('/v1/me', { username: 'sneaky' }, u.token)).status).toBe(400);
      expect((await t.api.patch('/v1/me', { bio: 'x'.repeat(501) }, u.token)).status).toBe(400);
    });

    it('changing the password revokes every other session', async () => {
      const u = await t.api.signUp('hank');
      const other = await t.api.post('/v1/sessions', { username: u.username, password: 'correct horse battery' });
      const wrong = await t.api.put('/v1/me/password', { currentPassword: 'not it at all', newPassword: 'a new password' }, u.token);
      expect(wrong.status).toBe(403);
      const res = await t.api.put('/v1/me/password', { currentPassword: 'correct horse battery', newPassword: 'a new password' }, u.token);
      expect(res.status).toBe(204);
      expect((await t.api.get('/v1/me', other.body.session.token)).status).toBe(401);
      expect((await t.api.get('/v1/me', u.token)).status).toBe(200);
      expect((await t.api.post('/v1/sessions', { username: u.username, password: 'a new password' })).status).toBe(201);
      expect((await t.api.post('/v1/sessions', { username: u.username, password: 'correct horse battery' })).status).toBe(401);
    });

    it('finds people by prefix and by id', async () => {
      const a = await t.api.signUp('searcher');
      const b = await t.api.signUp('findme');
      const found = await t.api.get(`/v1/users?query=${b.username.slice(0, 9)}`, a.token);
      expect(found.status).toBe(200);
      expect(found.body.users.map((u: any) => u.id)).toContain(b.id);
      expect((await t.api.get(`/v1/users/${b.id}`, a.token)).body.username).toBe(b.username);
      expect((await t.api.get('/v1/users/does-not-exist', a.token)).status).toBe(404);
      expect((await t.api.get('/v1/users?query=', a.token)).status).toBe(400);
    });

    it('refuses missing, malformed and unknown tokens with 401 unauthorized', async () => {
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer' }, { authorization: 'Basic abc' }, { authorization: 'Bearer not-a-real-token' }]) {
        const res = await t.api.call('GET', '/v1/me', { headers });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('unauthorized');
      }
    });

    it('answers unknown routes with a JSON 404 and serves health, metrics and OpenAPI', async () => {
      const missing = await t.api.get('/v1/nope');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('not_found');
      expect((await t.api.get('/v1/health')).body).toEqual({ status: 'ok' });
      const metrics = await t.api.get('/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain('parley_ws_connections');
      const openapi = await t.api.get('/v1/openapi.json');
      expect(openapi.status).toBe(200);
      expect(openapi.body.openapi).toMatch(/^3\./);
      expect(Object.keys(openapi.body.paths)).toContain('/v1/accounts');
      expect(openapi.body.paths['/v1/accounts'].post.requestBody).toBeDefined();
    });
  });
}
