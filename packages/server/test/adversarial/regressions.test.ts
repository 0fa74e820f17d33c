/** Bugs the adversarial suites found, each pinned by a test named after what broke. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from '../harness.ts';
import { WsClient } from '../realtime-client.ts';
import { send } from './support.ts';

for (const dialect of DIALECTS) {
  describe(`adversarial regressions [${dialect}]`, () => {
    let t: TestServer;
    let token: string;
    beforeAll(async () => {
      t = await startTestServer(dialect);
      token = (await t.api.signUp('reg')).token;
    });
    afterAll(async () => t?.close());

    it('a malformed percent-encoding in the URL answered outside the API error shape and without security headers', async () => {
      const res = await send(t.url, 'GET', '/v1/users/%ff', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error.code).toBe('invalid_request');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    });

    it('an overlong path parameter answered 414 with a Fastify-shaped body', async () => {
      const res = await send(t.url, 'GET', `/v1/users/${'a'.repeat(500)}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error.code).toBe('invalid_request');
    });

    it('a JSON body with a duplicate key was accepted, the last value silently winning', async () => {
      const res = await send(t.url, 'PATCH', '/v1/me', { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"bio":"first","bio":"second"}' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error.data.limit).toBe('duplicate_key');
      expect((await t.api.get('/v1/me', token)).body.bio).toBe('');
    });

    it('a body-less POST that said Content-Type: application/json answered 400 (clients that always send the header)', async () => {
      const other = await t.api.signUp('reg_empty');
      const asked = await send(t.url, 'POST', `/v1/connections/${other.id}`, { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '' });
      expect(asked.status).toBeLessThan(300);
      // A route that needs a body still says so, with its own code.
      const res = await send(t.url, 'PATCH', '/v1/me/privacy', { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error.code).toBe('invalid_request');
    });

    it('invalid UTF-8 in a JSON body was stored as replacement characters', async () => {
      const body = Buffer.concat([Buffer.from('{"bio":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      const res = await send(t.url, 'PATCH', '/v1/me', { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error.data.limit).toBe('utf8');
    });

    it('a NUL character in a profile field reached the database (PostgreSQL text cannot hold it)', async () => {
      const res = await t.api.patch('/v1/me', { bio: 'a\u0000b' }, token);
      expect(res.status).toBe(400);
      expect(res.body.error.data.limit).toBe('nul');
      const search = await t.api.get('/v1/users?query=a%00', token);
      expect(search.status).toBe(400);
    });

    it('a lone surrogate in a profile field was stored as an unpaired UTF-16 unit', async () => {
      const res = await send(t.url, 'PATCH', '/v1/me', { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"bio":"\\ud800"}' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error.data.limit).toBe('unicode');
    });

    it('a JSON body declaring charset=utf-16 was read as UTF-8', async () => {
      const res = await send(t.url, 'PATCH', '/v1/me', { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-16' }, body: '{"bio":"x"}' });
      expect(res.status).toBe(415);
      expect(JSON.parse(res.text).error.code).toBe('unsupported_media_type');
    });

    it('a NUL in a WebSocket send answered internal on PostgreSQL (frames skipped the input limits)', async () => {
      const conv = await t.api.post('/v1/conversations', { type: 'group', title: 'nul', memberIds: [] }, token);
      const { client } = await WsClient.connect(t.wsUrl, token);
      try {
        client.send({ type: 'send', reqId: 'r1', conversationId: conv.body.id, clientId: 'a\u0000b', kind: 'message', content: { encoding: 'plain', data: 'x' } });
        const answer = await client.next('error', (f) => f.reqId === 'r1');
        expect(answer.error.code).toBe('invalid_request');
        expect(answer.error.data.limit).toBe('nul');
      } finally {
        client.close();
      }
    });

    it('a CORS preflight had no route and answered 404', async () => {
      const res = await send(t.url, 'OPTIONS', '/v1/me', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
}

describe('adversarial regressions: the web app', () => {
  it('the web app’s own files (/, /index.html, its scripts) answered 401 to a browser without a token', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const webDir = mkdtempSync(path.join(tmpdir(), 'parley-web-'));
    mkdirSync(path.join(webDir, 'assets'));
    writeFileSync(path.join(webDir, 'index.html'), '<!doctype html><title>Parley</title><script type="module" src="/assets/app.js"></script>');
    writeFileSync(path.join(webDir, 'assets/app.js'), 'export {};');
    const t = await startTestServer('sqlite', { webDir });
    try {
      for (const p of ['/', '/index.html', '/assets/app.js', '/conversations/some-client-route']) {
        const res = await fetch(t.url + p);
        expect(res.status, p).toBe(200);
        expect(res.headers.get('content-security-policy'), p).toContain("script-src 'self'");
        await res.arrayBuffer();
      }
      // The API stays closed.
      expect((await fetch(`${t.url}/v1/me`)).status).toBe(401);
      expect(t.server.app.routeTable.filter((r) => !r.url.startsWith('/v1/') && r.url !== '/metrics' && r.url !== '/*').every((r) => r.auth === 'none')).toBe(true);
    } finally {
      await t.close();
      rmSync(webDir, { recursive: true, force: true });
    }
  });
});
