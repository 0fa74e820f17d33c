/**
 * Secrets and sessions: tokens are 256 random bits stored only as hashes, logs never
 * carry tokens, passwords or what people wrote, every answer has the security headers,
 * and CORS is closed unless configured.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorTokenMatches } from '../../src/http/auth.ts';
import { Api, DIALECTS, startTestServer, type TestServer } from '../harness.ts';
import { attackedRoutes, fillPath } from './routes.ts';
import { spawnServer, type Spawned } from './support.ts';

const PASSWORD = 'sesame-Password-91f3c';
const NEW_PASSWORD = 'sesame-Changed-55d0e';

describe('session tokens', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite');
  });
  afterAll(async () => t?.close());

  it('are 256 random bits, distinct, and stored only as their SHA-256', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 8; i++) tokens.push((await t.api.signUp('tok', { password: PASSWORD })).token);
    for (const token of tokens) expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(new Set(tokens).size).toBe(tokens.length);
    // Bits are not stuck: across 8 tokens, every byte position takes more than one value.
    for (let i = 0; i < 32; i++) expect(new Set(tokens.map((tok) => Buffer.from(tok, 'base64url')[i])).size).toBeGreaterThan(1);

    const rows = await t.server.ctx.db.selectFrom('sessions').selectAll().execute();
    const stored = JSON.stringify(rows);
    for (const token of tokens) {
      expect(stored).not.toContain(token);
      expect(stored).not.toContain(Buffer.from(token, 'base64url').toString('hex'));
      expect(rows.map((r) => r.token_hash)).toContain(createHash('sha256').update(token).digest('hex'));
    }
  });

  it('the database files hold no token and no password, anywhere', async () => {
    const a = await t.api.signUp('dbscan', { password: PASSWORD });
    const signIn = await t.api.post('/v1/sessions', { username: a.username, password: PASSWORD });
    expect(signIn.status).toBe(201);
    (t.server.ctx.database.raw as { pragma(s: string): unknown }).pragma('wal_checkpoint(TRUNCATE)');
    const dir = t.config.dataDir;
    const bytes = Buffer.concat(readdirSync(dir).filter((f) => f.startsWith('parley.db')).map((f) => readFileSync(path.join(dir, f))));
    for (const secret of [a.token, signIn.body.session.token, PASSWORD]) expect(bytes.includes(Buffer.from(secret))).toBe(false);
  });

  it('the operator token matches only itself, whatever the length of the guess', () => {
    const secret = 'operator-secret-0123456789';
    expect(operatorTokenMatches(secret, secret)).toBe(true);
    for (const guess of ['', 'o', secret.slice(0, -1), `${secret}x`, secret.toUpperCase(), 'x'.repeat(10_000), null]) {
      expect(operatorTokenMatches(guess, secret)).toBe(false);
    }
    expect(operatorTokenMatches(secret, undefined)).toBe(false);
  });
});

describe('logs of a full run at trace level', () => {
  let server: Spawned;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'parley-logscan-'));
    server = await spawnServer({ PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: 'trace', PARLEY_OPERATOR_TOKEN: 'operator-token-never-logged-7c1e' });
  }, 180_000);
  afterAll(async () => {
    await server?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('never contain a token, a password or a message text', async () => {
    const api = new Api(server.url);
    const secrets: string[] = [PASSWORD, NEW_PASSWORD, 'operator-token-never-logged-7c1e'];
    const alice = await api.signUp('alice', { password: PASSWORD });
    const bob = await api.signUp('bob', { password: PASSWORD });
    secrets.push(alice.token, bob.token);
    const second = await api.post('/v1/sessions', { username: alice.username, password: PASSWORD, deviceName: 'phone' });
    secrets.push(second.body.session.token);
    await api.post('/v1/sessions', { username: alice.username, password: 'a wrong password-2b9f' });
    secrets.push('a wrong password-2b9f');
    await api.get('/v1/me', 'a-forged-token-that-is-secret-too-4d2a');
    secrets.push('a-forged-token-that-is-secret-too-4d2a');
    await api.get('/v1/me', second.body.session.token);

    const conv = await api.post('/v1/conversations', { type: 'group', title: 'Log scan', memberIds: [bob.id] }, alice.token);
    if (conv.status === 201) {
      for (let i = 0; i < 3; i++) {
        const text = `the secret plan number ${i} 8e1f`;
        secrets.push(text);
        const sent = await api.post(`/v1/conversations/${conv.body.id}/messages`, { clientId: `log-${i}`, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ text }) } }, alice.token);
        expect(sent.status, JSON.stringify(sent.body)).toBe(201);
      }
      // A bad send: the payload must not be echoed into the log with the validation error.
      const badText = 'an invalid send still private 3c7d';
      secrets.push(badText);
      await api.post(`/v1/conversations/${conv.body.id}/messages`, { clientId: 'x'.repeat(500), kind: 'message', content: { encoding: 'plain', data: badText } }, alice.token);
      await api.get(`/v1/conversations/${conv.body.id}/messages?after=0`, bob.token);
      const invite = await api.post(`/v1/conversations/${conv.body.id}/invites`, {}, alice.token);
      if (invite.status === 201 || invite.status === 200) {
        secrets.push(invite.body.token);
        const carol = await api.signUp('carol', { password: PASSWORD });
        secrets.push(carol.token);
        await api.post(`/v1/invites/${invite.body.token}`, {}, carol.token);
      }
    }
    expect((await api.put('/v1/me/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, alice.token)).status).toBe(204);
    await api.call('DELETE', '/v1/me', { token: bob.token, body: { password: 'not bobs password-11aa' } });
    secrets.push('not bobs password-11aa');
    await api.call('GET', '/metrics', { token: 'operator-token-never-logged-7c1e' });

    // Give the logger a moment to flush its last lines.
    await new Promise((r) => setTimeout(r, 300));
    expect(server.lines.length).toBeGreaterThan(20);
    const log = server.lines.join('\n');
    for (const secret of secrets) expect(log.includes(secret), `the log contains ${secret.slice(0, 12)}…`).toBe(false);
    // Not even a prefix long enough to help a guess.
    for (const token of [alice.token, bob.token]) expect(log).not.toContain(token.slice(0, 16));
  }, 120_000);
});

for (const dialect of DIALECTS.slice(0, 1)) {
  describe(`security headers and CORS [${dialect}]`, () => {
    let closed: TestServer;
    let open: TestServer;
    beforeAll(async () => {
      closed = await startTestServer(dialect);
      open = await startTestServer(dialect, { corsOrigins: 'https://app.example, https://other.example' });
    });
    afterAll(async () => {
      await closed?.close();
      await open?.close();
    });

    const expectSecurityHeaders = (headers: Headers, context: string) => {
      const csp = headers.get('content-security-policy') ?? '';
      expect(csp, context).toContain("default-src 'self'");
      expect(csp, context).toContain("script-src 'self'");
      expect(csp, context).not.toContain('unsafe-inline');
      expect(csp, context).not.toContain('unsafe-eval');
      expect(csp, context).toContain("frame-ancestors 'none'");
      expect(csp, context).toContain("object-src 'none'");
      expect(headers.get('x-content-type-options'), context).toBe('nosniff');
      expect(headers.get('x-frame-options'), context).toBe('DENY');
      expect(headers.get('referrer-policy'), context).toBe('no-referrer');
    };

    it('every answer of every route, errors and not-found included, carries the security headers', async () => {
      const u = await closed.api.signUp('hdr');
      for (const route of attackedRoutes(closed.server.app.routeTable)) {
        const url = fillPath(route.url, () => u.id);
        for (const token of [undefined, u.token]) {
          const res = await fetch(closed.url + url, { method: route.method, headers: token ? { authorization: `Bearer ${token}` } : {} });
          await res.arrayBuffer();
          expectSecurityHeaders(res.headers, `${route.method} ${url} (${res.status})`);
          if (url.startsWith('/v1/')) expect(res.headers.get('cache-control'), url).toBe('no-store');
        }
      }
      for (const url of ['/v1/nope', '/v1/users/%ff', `/v1/users/${'x'.repeat(200)}`]) {
        const res = await fetch(closed.url + url);
        await res.arrayBuffer();
        expectSecurityHeaders(res.headers, url);
      }
    });

    it('CORS is closed by default: no allow-origin, and a preflight is refused', async () => {
      const u = await closed.api.signUp('cors');
      const res = await fetch(`${closed.url}/v1/me`, { headers: { origin: 'https://app.example', authorization: `Bearer ${u.token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await fetch(`${closed.url}/v1/me`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
      expect(preflight.status).toBe(403);
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
      expect(((await preflight.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    });

    it('CORS opens to exactly the configured origins, preflight included', async () => {
      const u = await open.api.signUp('cors');
      for (const origin of ['https://app.example', 'https://other.example']) {
        const preflight = await fetch(`${open.url}/v1/conversations`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
        expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
        expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
        const res = await fetch(`${open.url}/v1/me`, { headers: { origin, authorization: `Bearer ${u.token}` } });
        expect(res.headers.get('access-control-allow-origin')).toBe(origin);
        expect(res.headers.get('vary')).toContain('Origin');
      }
      for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'null', 'https://APP.example']) {
        const res = await fetch(`${open.url}/v1/me`, { headers: { origin, authorization: `Bearer ${u.token}` } });
        expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
        const preflight = await fetch(`${open.url}/v1/me`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET' } });
        expect(preflight.status, origin).toBe(403);
      }
    });
  });
}
