import { LIMITS } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from '../../../test/harness.ts';
import { HISTORY_BATCH_BYTES } from './history.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;
interface Page {
  conversationId: string;
  messages?: { seq: number; conversationId: string }[];
  error?: { code: string; message: string };
}


/**
 * POST /v1/sync/messages: the pages of many conversations in one request. Each page must be
 * exactly what GET …/messages answers for the same query (the same membership rules: nothing
 * from before joining, not_found for a non-member), in the order asked.
 */
for (const dialect of DIALECTS) {
  describe(`history pages in a batch [${dialect}]`, () => {
    let t: TestServer;
    let owner: U;
    let early: U;
    let late: U;
    let stranger: U;
    let group: string;
    let direct: string;
    let strangers: string;
    let joinedSeq: number;
    let lastSeq: number;

    const batch = (u: U | undefined, body: unknown) => t.api.post('/v1/sync/messages', body, u?.token);
    const pages = async (u: U, body: unknown): Promise<Page[]> => {
      const res = await batch(u, body);
      expect(res.status).toBe(200);
      return res.body.pages as Page[];
    };
    const single = async (u: U, conv: string, q: string) => {
      const res = await t.api.get(`/v1/conversations/${conv}/messages${q}`, u.token);
      expect(res.status).toBe(200);
      return res.body.messages as unknown[];
    };
    const connect = (a: U, b: U) => t.api.connect(a, b);
    const send = (u: U, conv: string, content?: { encoding: string; data: string }) => t.api.send(u, conv, content);

    beforeAll(async () => {
      t = await startTestServer(dialect);
      [owner, early, late, stranger] = await Promise.all([t.api.signUp('bo'), t.api.signUp('be'), t.api.signUp('bl'), t.api.signUp('bs')]);
      await connect(owner, early);
      await connect(owner, late);
      await connect(stranger, early);
      const created = await t.api.post('/v1/conversations', { type: 'group', title: 'batch', memberIds: [early.id] }, owner.token);
      expect(created.status).toBe(201);
      group = created.body.id;
      for (let i = 0; i < 5; i++) await send(owner, group);
      const added = await t.api.post(`/v1/conversations/${group}/members`, { userIds: [late.id] }, owner.token);
      expect(added.status).toBe(200);
      joinedSeq = added.body.lastSeq;
      for (let i = 0; i < 3; i++) lastSeq = await send(early, group);
      const d = await t.api.post('/v1/conversations', { type: 'direct', userId: early.id }, owner.token);
      expect(d.status).toBeLessThan(300);
      direct = d.body.id;
      for (let i = 0; i < 4; i++) await send(i % 2 ? owner : early, direct);
      const s = await t.api.post('/v1/conversations', { type: 'direct', userId: early.id }, stranger.token);
      expect(s.status).toBeLessThan(300);
      strangers = s.body.id;
      await send(stranger, strangers);
    });
    afterAll(async () => t?.close());

    it('answers each conversation with the page GET …/messages gives for the same query, in the order asked', async () => {
      const asked = [
        { conversationId: direct, after: 1 },
        { conversationId: group, after: 0 },
        { conversationId: group, before: lastSeq },
        { conversationId: group },
        { conversationId: strangers, after: 0 },
      ];
      const got = await pages(early, { conversations: asked, limit: 2 });
      expect(got.map((p) => p.conversationId)).toEqual(asked.map((a) => a.conversationId));
      expect(got[0]!.messages).toEqual(await single(early, direct, '?after=1&limit=2'));
      expect(got[1]!.messages).toEqual(await single(early, group, '?after=0&limit=2'));
      expect(got[2]!.messages).toEqual(await single(early, group, `?before=${lastSeq}&limit=2`));
      expect(got[3]!.messages).toEqual(await single(early, group, '?limit=2'));
      expect(got[4]!.messages).toEqual(await single(early, strangers, '?after=0&limit=2'));
      expect(got[0]!.messages!.map((m) => m.seq)).toEqual([2, 3]);
      expect(got[3]!.messages!.map((m) => m.seq)).toEqual([lastSeq - 1, lastSeq]);
      for (const p of got) {
        expect(p.error).toBeUndefined();
        for (const m of p.messages!) expect(m.conversationId).toBe(p.conversationId);
      }
    });

    it('pages with the default limit when none is given, and answers an empty page as []', async () => {
      const got = await pages(early, { conversations: [{ conversationId: group, after: 0 }, { conversationId: direct, after: 4 }] });
      expect(got[0]!.messages!.map((m) => m.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
      expect(got[1]!.messages).toEqual([]);
      expect(got[1]!.error).toBeUndefined();
    });

    it('never shows a member what came before they joined', async () => {
      const visible = Array.from({ length: lastSeq - joinedSeq + 1 }, (_, i) => joinedSeq + i);
      const got = await pages(late, {
        conversations: [{ conversationId: group, after: 0 }, { conversationId: group }, { conversationId: group, before: joinedSeq }],
        limit: 200,
      });
      expect(got[0]!.messages!.map((m) => m.seq)).toEqual(visible);
      expect(got[1]!.messages!.map((m) => m.seq)).toEqual(visible);
      expect(got[2]!.messages).toEqual([]);
    });

    it('answers a conversation the caller may not read with not_found in its place, and still serves the others', async () => {
      const unknown = '0192f0a0-0000-7000-8000-000000000000';
      const got = await pages(stranger, {
        conversations: [{ conversationId: group, after: 0 }, { conversationId: strangers, after: 0 }, { conversationId: unknown }, { conversationId: direct, before: 3 }],
        limit: 200,
      });
      expect(got.map((p) => p.conversationId)).toEqual([group, strangers, unknown, direct]);
      for (const i of [0, 2, 3]) {
        expect(got[i]!.messages).toBeUndefined();
        expect(got[i]!.error).toEqual({ code: 'not_found', message: 'no such conversation' });
      }
      expect(got[1]!.messages!.map((m) => m.seq)).toEqual([1]);
      // Not one envelope of the others' conversations anywhere in the body.
      const res = await batch(stranger, { conversations: [{ conversationId: group, after: 0 }, { conversationId: direct }] });
      expect(JSON.stringify(res.body)).not.toContain('"seq"');
    });

    it('answers not_found once a member has left', async () => {
      const leaver = await t.api.signUp('bx');
      await connect(owner, leaver);
      expect((await t.api.post(`/v1/conversations/${group}/members`, { userIds: [leaver.id] }, owner.token)).status).toBe(200);
      expect((await pages(leaver, { conversations: [{ conversationId: group, after: 0 }] }))[0]!.messages).toBeDefined();
      expect((await t.api.delete(`/v1/conversations/${group}/members/${leaver.id}`, leaver.token)).status).toBe(204);
      const got = await pages(leaver, { conversations: [{ conversationId: group, after: 0 }, { conversationId: group }] });
      expect(got.map((p) => p.error?.code)).toEqual(['not_found', 'not_found']);
    });

    it('refuses a request it cannot answer with 400 invalid_request, and one without a session with 401', async () => {
      const bad: unknown[] = [
        {},
        { conversations: [] },
        { conversations: Array.from({ length: LIMITS.historyBatchMax + 1 }, () => ({ conversationId: group })) },
        { conversations: [{ conversationId: group, after: 1, before: 5 }] },
        { conversations: [{ conversationId: group, after: -1 }] },
        { conversations: [{ conversationId: group, before: 0 }] },
        { conversations: [{ conversationId: group, after: '3' }] },
        { conversations: [{ conversationId: group, after: 1.5 }] },
        { conversations: [{ conversationId: group, since: 3 }] },
        { conversations: [{ conversationId: 'not an id' }] },
        { conversations: [{ conversationId: group }], limit: 0 },
        { conversations: [{ conversationId: group }], limit: LIMITS.pageMax + 1 },
        { conversations: [group] },
        [],
      ];
      for (const body of bad) {
        const res = await batch(early, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe('invalid_request');
      }
      const ok = await batch(early, { conversations: Array.from({ length: LIMITS.historyBatchMax }, () => ({ conversationId: direct, after: 3 })), limit: LIMITS.pageMax });
      expect(ok.status).toBe(200);
      expect(ok.body.pages).toHaveLength(LIMITS.historyBatchMax);
      expect((await batch(undefined, { conversations: [{ conversationId: group }] })).status).toBe(401);
    });

    it('stops adding pages once the body reaches its size budget, so the client asks again for the rest', async () => {
      const created = await t.api.post('/v1/conversations', { type: 'group', title: 'big', memberIds: [early.id] }, owner.token);
      const big = created.body.id as string;
      // Enough payloads of the largest size to fill one page past the budget.
      const payload = { encoding: 'plain', data: 'x'.repeat(LIMITS.payloadBytes) };
      const count = Math.ceil(HISTORY_BATCH_BYTES / LIMITS.payloadBytes) + 2;
      for (let i = 0; i < count; i++) await send(owner, big, payload);
      const bigFirst = await pages(early, { conversations: [{ conversationId: big, after: 0 }, { conversationId: direct, after: 0 }], limit: 200 });
      expect(bigFirst.map((p) => p.conversationId)).toEqual([big]);
      expect(bigFirst[0]!.messages).toHaveLength(count);
      // Under the budget when it is read, the big page is still added whole (pages are never cut).
      const smallFirst = await pages(early, { conversations: [{ conversationId: direct, after: 0 }, { conversationId: big, after: 0 }, { conversationId: group, after: 0 }], limit: 200 });
      expect(smallFirst.map((p) => p.conversationId)).toEqual([direct, big]);
      expect(smallFirst[1]!.messages).toHaveLength(count);
    });
  });
}
