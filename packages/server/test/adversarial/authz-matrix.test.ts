/**
 * The authorization matrix, generated from the app's route table: every route × no token,
 * a bad token, a revoked token, a non-member, a former member, a plain member on an admin
 * action, a blocked user → the right refusal, and a body that leaks nothing the caller may
 * not see (no ids, names, titles, texts or counts).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from '../harness.ts';
import { attackedRoutes, fillPath, ROUTES, routeKey, unclassified, type Fixture, type RouteClass } from './routes.ts';
import { send } from './support.ts';

interface User {
  id: string;
  username: string;
  token: string;
  sessionId: string;
}

const OPERATOR_TOKEN = 'operator-token-of-the-matrix-suite';
const SECRET_TEXT = 'the matrix secret text 5b8e';
const TITLE = 'Matrix secret group 77c2';

/** The only keys a refusal may carry. */
const ERROR_KEYS = new Set(['error', 'code', 'message', 'data', 'field', 'limit', 'max']);

function keysOf(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (!Array.isArray(value)) out.add(k);
      keysOf(v, out);
    }
  }
  return out;
}

for (const dialect of DIALECTS) {
  describe(`authorization matrix [${dialect}]`, () => {
    let t: TestServer;
    let alice: User; // owner of the group
    let bob: User; // plain member
    let carol: User; // never a member
    let dave: User; // former member
    let frank: User; // blocked by alice
    let groupId: string;
    let messageId: string;
    let attachmentId: string;
    let inviteToken: string;
    let revokedToken: string;
    /** Everything about the group an outsider must not learn. */
    let secrets: string[];

    const call = async (method: string, url: string, token: string | undefined, body?: unknown) => {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(body);
      }
      const res = await send(t.url, method, url, { headers, body: payload });
      let parsed: unknown;
      try {
        parsed = JSON.parse(res.text);
      } catch {
        parsed = res.text;
      }
      return { ...res, body: parsed as { error?: { code: string; message: string } } };
    };

    /** A refusal carries only an error, and none of what the caller may not see (except what the caller itself sent). */
    const expectNoLeak = (res: { text: string; body: unknown }, request: string, context: string) => {
      const extra = [...keysOf(res.body)].filter((k) => !ERROR_KEYS.has(k));
      expect(extra, `${context}: keys beyond an error: ${res.text.slice(0, 200)}`).toEqual([]);
      for (const secret of secrets) {
        if (request.includes(secret)) continue;
        expect(res.text.includes(secret), `${context} leaks ${secret}: ${res.text.slice(0, 200)}`).toBe(false);
      }
      expect(res.text, context).not.toMatch(/\b(members?|count|total)\b\W*\d/i);
    };

    const fixtureFor = (): Fixture => ({ otherUserId: carol.id, targetUserId: alice.id, conversationId: groupId, messageId });

    const pathFor = (cls: RouteClass, url: string, conversationId = groupId) =>
      fillPath(url, (param) => {
        if (param === 'token') return inviteToken;
        if (param === 'messageId') return messageId;
        if (param === 'userId') return alice.id;
        // :id
        if (cls === 'member' || cls === 'admin') return conversationId;
        if (cls === 'attachment') return attachmentId;
        if (url.startsWith('/v1/sessions/')) return alice.sessionId;
        return alice.id;
      });

    beforeAll(async () => {
      t = await startTestServer(dialect, { operatorToken: OPERATOR_TOKEN, sendsPerMinute: 100_000 });
      const users: User[] = [];
      for (const name of ['alice', 'bob', 'carol', 'dave', 'frank']) {
        const u = await t.api.signUp(name);
        await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, u.token);
        users.push(u);
      }
      [alice, bob, carol, dave, frank] = users as [User, User, User, User, User];

      const group = await t.api.post('/v1/conversations', { type: 'group', title: TITLE, memberIds: [bob.id, dave.id] }, alice.token);
      expect(group.status, JSON.stringify(group.body)).toBe(201);
      groupId = group.body.id;
      expect((await t.api.delete(`/v1/conversations/${groupId}/members/${dave.id}`, dave.token)).status).toBe(204);
      const msg = await t.api.post(`/v1/conversations/${groupId}/messages`, { clientId: 'm1', kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ text: SECRET_TEXT }) } }, alice.token);
      expect(msg.status).toBe(201);
      messageId = msg.body.id;
      const upload = await fetch(`${t.url}/v1/attachments`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/octet-stream' }, body: Buffer.from('secret attachment bytes') });
      expect(upload.status).toBe(201);
      attachmentId = ((await upload.json()) as { id: string }).id;
      const invite = await t.api.post(`/v1/conversations/${groupId}/invites`, {}, alice.token);
      expect([200, 201]).toContain(invite.status);
      inviteToken = invite.body.token;
      const second = await t.api.post('/v1/sessions', { username: alice.username, password: 'correct horse battery', deviceName: 'stolen laptop' });
      revokedToken = second.body.session.token;
      expect((await t.api.delete(`/v1/sessions/${second.body.session.id}`, alice.token)).status).toBe(204);
      expect((await t.api.put(`/v1/blocks/${frank.id}`, undefined, alice.token)).status).toBeLessThan(300);
      secrets = [groupId, TITLE, alice.id, bob.id, alice.username, bob.username, messageId, SECRET_TEXT, attachmentId, inviteToken, alice.sessionId];
    }, 60_000);
    afterAll(async () => t?.close());

    const routes = () => attackedRoutes(t.server.app.routeTable).filter((r) => ROUTES[routeKey(r)]);

    it('covers every route of the app', () => {
      expect(unclassified(t.server.app.routeTable)).toEqual([]);
    });

    it('no token, a bad token, a revoked token, a user token on the admin API: 401 unauthorized, the same answer everywhere', async () => {
      const answers = new Map<string, Set<string>>();
      for (const route of routes()) {
        const spec = ROUTES[routeKey(route)]!;
        if (spec.class === 'public') continue;
        const url = pathFor(spec.class, route.url);
        const callers: [string, string | undefined][] = [['no token', undefined], ['bad token', 'x'.repeat(43)], ['revoked token', revokedToken]];
        if (spec.class === 'operator') callers.push(['a user token', alice.token]);
        for (const [who, token] of callers) {
          const res = await call(route.method, url, token, spec.body?.(fixtureFor()));
          const context = `${route.method} ${route.url} with ${who}`;
          expect(res.status, `${context}: ${res.text.slice(0, 200)}`).toBe(401);
          expect(res.body.error?.code, context).toBe('unauthorized');
          expectNoLeak(res, url, context);
          const key = `${who}${spec.class === 'operator' ? ' (admin API)' : ''}`;
          answers.set(key, (answers.get(key) ?? new Set()).add(res.text));
        }
      }
      // The admin API words it differently, but otherwise one kind of caller gets one answer, whatever the route.
      for (const [who, texts] of answers) expect([...texts], who).toHaveLength(1);
    });

    it('a non-member and a former member get 404 on every conversation route, identical to a conversation that does not exist', async () => {
      for (const route of routes()) {
        const spec = ROUTES[routeKey(route)]!;
        if (spec.class !== 'member' && spec.class !== 'admin') continue;
        const body = spec.body?.(fixtureFor());
        const ghost = await call(route.method, pathFor(spec.class, route.url, randomUUID()), carol.token, body);
        for (const [who, user] of [['non-member', carol], ['former member', dave]] as const) {
          const url = pathFor(spec.class, route.url);
          const res = await call(route.method, url, user.token, body);
          const context = `${route.method} ${route.url} as ${who}`;
          expect(res.status, `${context}: ${res.text.slice(0, 200)}`).toBe(404);
          expect(res.body.error?.code, context).toBe('not_found');
          expectNoLeak(res, url + JSON.stringify(body ?? ''), context);
          // No oracle: "exists but not yours" reads exactly like "does not exist".
          expect({ status: res.status, body: res.body }, `${context} vs a conversation that does not exist`).toEqual({ status: ghost.status, body: ghost.body });
        }
      }
    });

    it('a plain member gets 403 on every admin action, and learns nothing new from it', async () => {
      for (const route of routes()) {
        const spec = ROUTES[routeKey(route)]!;
        if (spec.class !== 'admin') continue;
        const url = pathFor(spec.class, route.url);
        const res = await call(route.method, url, bob.token, spec.body?.(fixtureFor()));
        const context = `${route.method} ${route.url} as a plain member`;
        expect(res.status, `${context}: ${res.text.slice(0, 200)}`).toBe(403);
        expect(res.body.error?.code, context).toBe('forbidden');
        expect([...keysOf(res.body)].filter((k) => !ERROR_KEYS.has(k)), context).toEqual([]);
      }
      // And nothing changed: the title, the roles, the message are as they were.
      const conv = await t.api.get(`/v1/conversations/${groupId}`, alice.token);
      expect(conv.body.title).toBe(TITLE);
      expect(conv.body.members.find((m: { userId: string }) => m.userId === alice.id).role).toBe('owner');
      expect(conv.body.members.find((m: { userId: string }) => m.userId === bob.id).role).toBe('member');
      const history = await t.api.get(`/v1/conversations/${groupId}/messages?after=0`, alice.token);
      expect(history.body.messages.find((m: { id: string }) => m.id === messageId).content).not.toBeNull();
    });

    it('another user’s attachment: 404, identical to one that does not exist', async () => {
      for (const route of routes()) {
        const spec = ROUTES[routeKey(route)]!;
        if (spec.class !== 'attachment') continue;
        const res = await call(route.method, pathFor('attachment', route.url), carol.token);
        const ghost = await call(route.method, fillPath(route.url, () => randomUUID()), carol.token);
        const context = `${route.method} ${route.url} as a stranger`;
        expect(res.status, `${context}: ${res.text.slice(0, 200)}`).toBe(404);
        expect(res.body, context).toEqual(ghost.body);
        expectNoLeak(res, attachmentId, context);
      }
      expect((await fetch(`${t.url}/v1/attachments/${attachmentId}`, { headers: { authorization: `Bearer ${alice.token}` } })).status).toBe(200);
    });

    it('an invite token that does not exist: 404', async () => {
      const res = await call('POST', `/v1/invites/${'A'.repeat(43)}`, carol.token);
      expect(res.status).toBe(404);
      expectNoLeak(res, '', 'bogus invite');
    });

    it('the admin API refuses users and answers the operator', async () => {
      for (const route of routes()) {
        const spec = ROUTES[routeKey(route)]!;
        if (spec.class !== 'operator') continue;
        const url = fillPath(route.url, () => randomUUID());
        const res = await call(route.method, url, OPERATOR_TOKEN, spec.body?.(fixtureFor()));
        expect(res.status, `${route.method} ${route.url} as the operator: ${res.text.slice(0, 200)}`).not.toBe(401);
        expect(res.status).toBeLessThan(500);
      }
    });

    it('a blocked user: the blocker is not found, cannot be messaged or added, and the block is never named', async () => {
      const answers = [
        await call('GET', `/v1/users/${alice.id}`, frank.token),
        await call('POST', '/v1/conversations', frank.token, { type: 'direct', userId: alice.id }),
        await call('POST', `/v1/connections/${alice.id}`, frank.token),
      ];
      expect(answers[0]!.status).toBe(404);
      expect(answers[0]!.body).toEqual((await call('GET', `/v1/users/${randomUUID()}`, frank.token)).body);
      expect(answers[1]!.status).toBe(403);
      expect(answers[1]!.body.error?.code).toBe('messaging_not_allowed');
      // A user whose settings forbid messages gets the very same answer.
      const closed = await t.api.signUp('closed');
      await t.api.patch('/v1/me/privacy', { whoCanMessage: 'nobody' }, closed.token);
      const bySettings = await call('POST', '/v1/conversations', frank.token, { type: 'direct', userId: closed.id });
      expect(answers[1]!.body).toEqual(bySettings.body);
      expect(answers[2]!.status).toBeLessThan(500);
      for (const res of answers) expect(res.text.toLowerCase()).not.toContain('block');
      const users = await call('GET', `/v1/users?query=${alice.username}`, frank.token);
      expect(users.text).not.toContain(alice.id);
      const group = await call('POST', '/v1/conversations', frank.token, { type: 'group', title: 'frank’s', memberIds: [alice.id] });
      expect(group.status).toBe(201);
      expect((group.body as unknown as { notAdded: unknown }).notAdded).toEqual([{ userId: alice.id, reason: 'not_allowed' }]);
      expect(group.text.toLowerCase()).not.toContain('block');
    });
  });
}
