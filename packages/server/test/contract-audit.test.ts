/**
 * Regressions found by auditing the running server against API.md, the way an outside
 * tester drives it: documented paths, fields, status codes and error codes only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type Reply, type TestServer } from './harness.ts';

for (const dialect of DIALECTS) {
  describe(`contract audit [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => t?.close());

    it('user search is a list like the others: limit up to 200, nextCursor paging, null at the end', async () => {
      const me = await t.api.signUp('searcher');
      const prefix = `pg${Math.random().toString(36).slice(2, 7)}`;
      const names: string[] = [];
      for (let i = 0; i < 5; i++) names.push((await t.api.signUp(`${prefix}${i}`)).username);

      const max = await t.api.get(`/v1/users?query=${prefix}&limit=200`, me.token);
      expect(max.status).toBe(200);
      expect(max.body.users.map((u: { username: string }) => u.username)).toEqual(names);
      expect(max.body.nextCursor).toBeNull();

      const over = await t.api.get(`/v1/users?query=${prefix}&limit=201`, me.token);
      expect(over.status).toBe(400);
      expect(over.body.error).toMatchObject({ code: 'invalid_request', data: { field: 'querystring.limit' } });

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: Reply = await t.api.get(`/v1/users?query=${prefix}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, me.token);
        expect(res.status).toBe(200);
        seen.push(...res.body.users.map((u: { username: string }) => u.username));
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor !== null && pages < 10);
      expect(seen).toEqual(names);
      expect(pages).toBe(3);

      const bad = await t.api.get(`/v1/users?query=${prefix}&cursor=garbage`, me.token);
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('invalid_request');
    });

    it('a report takes evidence in the words of issue 3: the content as the client shows it, without a senderId', async () => {
      const spammer = await t.api.signUp('spammer');
      const victim = await t.api.signUp('victim');
      const conv = await t.api.post('/v1/conversations', { type: 'direct', userId: victim.id }, spammer.token);
      const ids: string[] = [];
      for (const text of ['buy now', 'cheap pills']) {
        const sent = await t.api.post(`/v1/conversations/${conv.body.id}/messages`, { clientId: text, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ text }) } }, spammer.token);
        expect(sent.status).toBe(201);
        ids.push(sent.body.id);
      }
      for (const evidence of [[{ messageId: ids[0], content: 'buy now' }], ['buy now', 'cheap pills'], 'buy now']) {
        const res = await t.api.post('/v1/reports', { conversationId: conv.body.id, messageIds: ids, reason: 'spam', evidence }, victim.token);
        expect(res.status, JSON.stringify(evidence)).toBe(201);
        expect(typeof res.body.id).toBe('string');
      }
      // A stated messageId must still be one of the reported messages, and a string past messageIds pairs with none.
      const stray = await t.api.post('/v1/reports', { conversationId: conv.body.id, messageIds: [ids[0]], reason: 'spam', evidence: [{ messageId: ids[1], content: 'x' }] }, victim.token);
      expect(stray.status).toBe(400);
      expect(stray.body.error.data.field).toBe('body.evidence.0.messageId');
      const extra = await t.api.post('/v1/reports', { conversationId: conv.body.id, messageIds: [ids[0]], reason: 'spam', evidence: ['a', 'b'] }, victim.token);
      expect(extra.status).toBe(400);
      expect(extra.body.error.data.field).toBe('body.evidence.1.messageId');

      // What the reporter exported shows the evidence against the sender the server recorded.
      const exported = await t.api.get('/v1/me/export', victim.token);
      const evidence = exported.body.reports.flatMap((r: { evidence: unknown[] }) => r.evidence);
      expect(evidence).toContainEqual({ messageId: ids[1], senderId: spammer.id, content: 'cheap pills' });
    });
  });
}
