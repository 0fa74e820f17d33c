import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from '../../../test/harness.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;


/**
 * History pages read the caller's joined_seq inside the page query and ask for the
 * membership only when a page comes back empty (history.ts): every way of asking for a
 * page must still tell a member's empty page (200, []) from a non-member (404), and never
 * show a member what came before they joined.
 */
for (const dialect of DIALECTS) {
  describe(`history pages [${dialect}]`, () => {
    let t: TestServer;
    let owner: U;
    let early: U;
    let late: U;
    let stranger: U;
    let conv: string;
    let lastSeq: number;
    let joinedSeq: number;

    const page = (u: U, q: string) => t.api.get(`/v1/conversations/${conv}/messages${q}`, u.token);
    const seqs = async (u: U, q: string) => {
      const res = await page(u, q);
      expect(res.status).toBe(200);
      return (res.body.messages as { seq: number; conversationId: string }[]).map((m) => {
        expect(m.conversationId).toBe(conv);
        return m.seq;
      });
    };
    const connect = (a: U, b: U) => t.api.connect(a, b);
    const send = (u: U) => t.api.send(u, conv);

    beforeAll(async () => {
      t = await startTestServer(dialect);
      [owner, early, late, stranger] = await Promise.all([t.api.signUp('ho'), t.api.signUp('he'), t.api.signUp('hl'), t.api.signUp('hs')]);
      await connect(owner, early);
      await connect(owner, late);
      const created = await t.api.post('/v1/conversations', { type: 'group', title: 'history', memberIds: [early.id] }, owner.token);
      expect(created.status).toBe(201);
      conv = created.body.id;
      for (let i = 0; i < 5; i++) await send(owner);
      const added = await t.api.post(`/v1/conversations/${conv}/members`, { userIds: [late.id] }, owner.token);
      expect(added.status).toBe(200);
      joinedSeq = added.body.lastSeq;
      for (let i = 0; i < 3; i++) lastSeq = await send(early);
    });
    afterAll(async () => t?.close());

    it('pages forward, backward and from the latest, in seq order', async () => {
      const all = Array.from({ length: lastSeq }, (_, i) => i + 1);
      expect(await seqs(early, '?after=0&limit=200')).toEqual(all);
      expect(await seqs(early, '?after=2&limit=3')).toEqual([3, 4, 5]);
      expect(await seqs(early, `?before=${lastSeq}&limit=2`)).toEqual([lastSeq - 2, lastSeq - 1]);
      expect(await seqs(early, '?limit=2')).toEqual([lastSeq - 1, lastSeq]);
    });

    it('never shows a member what came before they joined, whichever way they page', async () => {
      const visible = Array.from({ length: lastSeq - joinedSeq + 1 }, (_, i) => joinedSeq + i);
      expect(await seqs(late, '?after=0&limit=200')).toEqual(visible);
      expect(await seqs(late, '?limit=200')).toEqual(visible);
      expect(await seqs(late, `?before=${lastSeq + 1}&limit=200`)).toEqual(visible);
      expect(await seqs(late, `?before=${joinedSeq}`)).toEqual([]);
    });

    it("answers a member's empty page with 200 and no envelopes", async () => {
      expect(await seqs(early, `?after=${lastSeq}`)).toEqual([]);
      expect(await seqs(early, '?before=1')).toEqual([]);
      expect(await seqs(late, `?after=${lastSeq + 100}`)).toEqual([]);
    });

    it('answers 404 to a non-member and to an unknown conversation, whichever way they page', async () => {
      for (const q of ['', '?after=0', `?after=${lastSeq}`, '?before=3', '?limit=1']) {
        const res = await page(stranger, q);
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
      const unknown = await t.api.get(`/v1/conversations/0192f0a0-0000-7000-8000-000000000000/messages?after=0`, owner.token);
      expect(unknown.status).toBe(404);
    });

    it('answers 404 once a member has left', async () => {
      const leaver = await t.api.signUp('hx');
      await connect(owner, leaver);
      expect((await t.api.post(`/v1/conversations/${conv}/members`, { userIds: [leaver.id] }, owner.token)).status).toBe(200);
      expect((await page(leaver, '?after=0')).status).toBe(200);
      expect((await t.api.delete(`/v1/conversations/${conv}/members/${leaver.id}`, leaver.token)).status).toBe(204);
      expect((await page(leaver, '?after=0')).status).toBe(404);
      expect((await page(leaver, '')).status).toBe(404);
    });
  });
}
