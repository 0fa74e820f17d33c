import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';

const OPERATOR = 'operator-token-for-tests-0123456789';
const PARLEY = fileURLToPath(new URL('../../cli/bin/parley.js', import.meta.url));

/** Run the real `parley` CLI in its own process. */
async function parley(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [PARLEY, ...args], { env: { ...process.env, ...env }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

for (const dialect of DIALECTS) {
  describe(`reports and the moderation queue [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect, { operatorToken: OPERATOR });
    });
    afterAll(async () => t?.close());

    const admin = (method: string, path: string, body?: unknown, token = OPERATOR) => t.api.call(method, path, { token, body });

    let n = 0;
    async function send(u: U, conversationId: string, text: string): Promise<string> {
      const res = await t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: `c${++n}`, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text }) } }, u.token);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.id;
    }

    /** A stranger messages `victim` (a message request) twice. */
    async function spam() {
      const victim = await t.api.signUp('victim');
      const spammer = await t.api.signUp('spammer');
      const conv = await t.api.post('/v1/conversations', { type: 'direct', userId: victim.id }, spammer.token);
      expect(conv.status).toBe(201);
      const m1 = await send(spammer, conv.body.id, 'buy now');
      const m2 = await send(spammer, conv.body.id, 'really, buy now');
      return { victim, spammer, conversationId: conv.body.id as string, m1, m2 };
    }

    it('a recipient reports a message request; the operator reads and resolves it', async () => {
      const { victim, spammer, conversationId, m1, m2 } = await spam();
      const res = await t.api.post(
        '/v1/reports',
        { conversationId, messageIds: [m1, m2], reason: 'spam', evidence: [{ messageId: m1, senderId: spammer.id, content: 'buy now' }] },
        victim.token,
      );
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ id: expect.any(String) });

      const queue = await admin('GET', '/v1/admin/reports?status=open&limit=200');
      expect(queue.status).toBe(200);
      const report = queue.body.reports.find((r: any) => r.id === res.body.id);
      expect(report).toEqual({
        id: res.body.id,
        reporterId: victim.id,
        reportedUserIds: [spammer.id],
        conversationId,
        messageIds: [m1, m2],
        reason: 'spam',
        evidence: [{ messageId: m1, senderId: spammer.id, content: 'buy now' }],
        status: 'open',
        resolution: null,
        createdAt: expect.any(String),
        resolvedAt: null,
      });
      expect((await admin('GET', `/v1/admin/reports/${res.body.id}`)).body).toEqual(report);

      const resolved = await admin('POST', `/v1/admin/reports/${res.body.id}/resolve`, { resolution: 'account suspended' });
      expect(resolved.status).toBe(200);
      expect(resolved.body).toMatchObject({ status: 'resolved', resolution: 'account suspended', resolvedAt: expect.any(String) });
      expect((await admin('GET', '/v1/admin/reports?status=open&limit=200')).body.reports.map((r: any) => r.id)).not.toContain(res.body.id);
      expect((await admin('GET', '/v1/admin/reports?status=resolved&limit=200')).body.reports.map((r: any) => r.id)).toContain(res.body.id);
      const again = await admin('POST', `/v1/admin/reports/${res.body.id}/resolve`, { resolution: 'twice' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('conflict');
      // Not blocked: the report did not ask for it.
      expect((await t.api.get('/v1/blocks', victim.token)).body.blocks).toEqual([]);
    });

    it('the server, not the client, says who sent the reported messages', async () => {
      const { victim, spammer, conversationId, m1 } = await spam();
      const res = await t.api.post('/v1/reports', { conversationId, messageIds: [m1], reason: 'spam', evidence: [{ messageId: m1, senderId: victim.id, content: 'x' }] }, victim.token);
      expect(res.status).toBe(201);
      const report = (await admin('GET', `/v1/admin/reports/${res.body.id}`)).body;
      expect(report.reportedUserIds).toEqual([spammer.id]);
      expect(report.evidence[0].senderId).toBe(spammer.id);
    });

    it('report and block at once: the sender can no longer reach the reporter, and is not told', async () => {
      const { victim, spammer, conversationId, m1 } = await spam();
      const res = await t.api.post('/v1/reports', { conversationId, messageIds: [m1], reason: 'harassment', block: true }, victim.token);
      expect(res.status).toBe(201);
      const blocks = await t.api.get('/v1/blocks', victim.token);
      expect(blocks.body.blocks.map((b: any) => b.user.id)).toEqual([spammer.id]);
      const more = await t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: 'after-block', kind: 'message', content: { encoding: 'plain', data: '{}' } }, spammer.token);
      expect(more.status).toBe(403);
      expect(['messaging_not_allowed', 'request_pending']).toContain(more.body.error.code);
      expect((await t.api.get(`/v1/users/${victim.id}`, spammer.token)).status).toBe(404);
    });

    it('only members may report, only messages of that conversation, never only their own', async () => {
      const { victim, spammer, conversationId, m1 } = await spam();
      const outsider = await t.api.signUp('outsider');
      const notMember = await t.api.post('/v1/reports', { conversationId, messageIds: [m1], reason: 'x' }, outsider.token);
      expect(notMember.status).toBe(404);
      expect(notMember.body.error.code).toBe('not_found');

      const other = await spam();
      const foreign = await t.api.post('/v1/reports', { conversationId, messageIds: [m1, other.m1], reason: 'x' }, victim.token);
      expect(foreign.status).toBe(400);
      expect(foreign.body.error).toMatchObject({ code: 'invalid_request', data: { field: 'body.messageIds' } });

      const own = await t.api.post('/v1/reports', { conversationId, messageIds: [m1], reason: 'x' }, spammer.token);
      expect(own.status).toBe(400);

      const strayEvidence = await t.api.post('/v1/reports', { conversationId, messageIds: [m1], reason: 'x', evidence: [{ messageId: other.m1, senderId: spammer.id, content: 'x' }] }, victim.token);
      expect(strayEvidence.status).toBe(400);
      expect(strayEvidence.body.error.data.field).toBe('body.evidence.0.messageId');

      for (const [body, field] of [
        [{ conversationId, messageIds: [], reason: 'x' }, 'body.messageIds'],
        [{ conversationId, messageIds: [m1], reason: '' }, 'body.reason'],
        [{ conversationId, messageIds: [m1], reason: '   ' }, 'body.reason'],
        [{ conversationId, messageIds: [m1] }, 'body.reason'],
        [{ messageIds: [m1], reason: 'x' }, 'body.conversationId'],
        [{ conversationId, messageIds: [m1], reason: 'x'.repeat(2001) }, 'body.reason'],
        [{ conversationId, messageIds: [m1], reason: 'x', block: 'yes' }, 'body.block'],
      ] as const) {
        const res = await t.api.post('/v1/reports', body, victim.token);
        expect(res.status, JSON.stringify(body).slice(0, 200)).toBe(400);
        expect(res.body.error.data.field).toBe(field);
      }
      expect((await t.api.post('/v1/reports', { conversationId: 'nope', messageIds: [m1], reason: 'x' }, victim.token)).status).toBe(404);
      expect((await t.api.post('/v1/reports', { conversationId, messageIds: [m1], reason: 'x' })).status).toBe(401);
    });

    it('the admin API needs the operator token, and users’ tokens are not it', async () => {
      const u = await t.api.signUp('curious');
      for (const token of [undefined, u.token, 'wrong-operator-token-0123456789']) {
        const res = await t.api.call('GET', '/v1/admin/reports', token ? { token } : {});
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('unauthorized');
      }
      expect((await admin('POST', '/v1/admin/reports/nope/resolve', { resolution: 'x' })).status).toBe(404);
      expect((await admin('POST', '/v1/admin/reports/nope/resolve', {})).status).toBe(400);
      expect((await admin('GET', '/v1/admin/reports?status=closed')).status).toBe(400);
      expect((await admin('GET', '/v1/admin/reports?cursor=%%%')).status).toBe(400);
    });

    // The CLI does not care which database is behind the API: one dialect is enough (each spawn loads the whole CLI).
    it.runIf(dialect === DIALECTS[0])('`parley admin reports` and `parley admin resolve` work the queue through the admin API', { timeout: 180_000 }, async () => {
      const { victim, spammer, conversationId, m1 } = await spam();
      const { id } = (await t.api.post('/v1/reports', { conversationId, messageIds: [m1], reason: 'cli spam', evidence: [{ messageId: m1, senderId: spammer.id, content: 'buy now' }] }, victim.token)).body;
      const env = { PARLEY_URL: t.url, PARLEY_OPERATOR_TOKEN: OPERATOR };

      const listed = await parley(['admin', 'reports', '--status', 'open', '--limit', '200'], env);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toContain(id);
      expect(listed.stdout).toContain('cli spam');
      expect(listed.stdout).toContain('buy now');

      const resolved = await parley(['admin', 'resolve', id, '--note', 'warned the sender'], env);
      expect(resolved.code, resolved.stderr).toBe(0);
      expect(resolved.stdout).toContain('warned the sender');
      expect((await admin('GET', `/v1/admin/reports/${id}`)).body).toMatchObject({ status: 'resolved', resolution: 'warned the sender' });

      const twice = await parley(['admin', 'resolve', id, '--note', 'again'], env);
      expect(twice.code).toBe(1);
      expect(twice.stderr).toContain('409');
      const wrongToken = await parley(['admin', 'reports'], { ...env, PARLEY_OPERATOR_TOKEN: 'not-the-operator-token' });
      expect(wrongToken.code).toBe(1);
      expect(wrongToken.stderr).toContain('401');
    });

    it('pages the queue oldest first', async () => {
      const filed: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { victim, conversationId, m1 } = await spam();
        filed.push((await t.api.post('/v1/reports', { conversationId, messageIds: [m1], reason: `r${i}` }, victim.token)).body.id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: any = await admin('GET', `/v1/admin/reports?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.body.reports.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.reports.map((r: any) => r.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      const positions = filed.map((id) => seen.indexOf(id));
      expect(positions.every((p) => p >= 0)).toBe(true);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
      expect(new Set(seen).size).toBe(seen.length);
    });
  });

  describe(`the admin API without an operator token [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => t?.close());

    it('does not exist', async () => {
      const res = await t.api.call('GET', '/v1/admin/reports', { token: OPERATOR });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    });
  });
}
