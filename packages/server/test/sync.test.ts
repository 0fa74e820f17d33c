import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import type { DomainEvent } from '../src/bus/events.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

const text = (t: string) => ({ encoding: 'plain', data: JSON.stringify({ type: 'text', text: t }) });
let n = 0;
const cid = () => `s-${Date.now().toString(36)}-${n++}`;

for (const dialect of DIALECTS) {
  describe(`sync [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect, { sendsPerMinute: 100_000 });
    });
    afterAll(async () => t?.close());

    async function connect(a: U, b: U) {
      await t.api.post(`/v1/connections/${b.id}`, {}, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token);
    }
    const send = (u: U, conv: string) => t.api.post(`/v1/conversations/${conv}/messages`, { clientId: cid(), kind: 'message', content: text('x') }, u.token);
    const sync = async (u: U, cursor?: string) => {
      const res = await t.api.get(`/v1/sync${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, u.token);
      expect(res.status).toBe(200);
      return res.body as { cursor: string; conversations: any[]; removed: string[] };
    };

    it('without a cursor returns every conversation; with one, only what changed', async () => {
      const me = await t.api.signUp('sy');
      const p1 = await t.api.signUp('sy1');
      const p2 = await t.api.signUp('sy2');
      await connect(me, p1);
      await connect(me, p2);
      const c1 = (await t.api.post('/v1/conversations', { type: 'direct', userId: p1.id }, me.token)).body.id;
      const c2 = (await t.api.post('/v1/conversations', { type: 'direct', userId: p2.id }, me.token)).body.id;
      const full = await sync(me);
      expect(full.conversations.map((c) => c.id).sort()).toEqual([c1, c2].sort());
      expect(full.removed).toEqual([]);
      expect(typeof full.cursor).toBe('string');

      const quiet = await sync(me, full.cursor);
      expect(quiet.conversations).toEqual([]);
      expect(quiet.removed).toEqual([]);

      await send(p2, c2);
      await send(p2, c2);
      const changed = await sync(me, quiet.cursor);
      expect(changed.conversations.map((c) => c.id)).toEqual([c2]);
      expect(changed.conversations[0]).toMatchObject({ lastSeq: 2, unreadCount: 2, myState: 'active' });

      // My own marker is my change, not the other member's.
      const p2Cursor = (await sync(p2)).cursor;
      await t.api.post(`/v1/conversations/${c2}/read`, { seq: 2 }, me.token);
      const mine = await sync(me, changed.cursor);
      expect(mine.conversations.map((c) => c.id)).toEqual([c2]);
      expect(mine.conversations[0].unreadCount).toBe(0);
      expect((await sync(p2, p2Cursor)).conversations).toEqual([]);

      expect((await t.api.get('/v1/sync?cursor=garbage', me.token)).status).toBe(400);
      // `?cursor=` with no value is API.md's "without a cursor": every conversation.
      const everything = await t.api.get('/v1/sync?cursor=', me.token);
      expect(everything.status).toBe(200);
      expect(everything.body.conversations.map((c: { id: string }) => c.id).sort()).toEqual((await sync(me)).conversations.map((c) => c.id).sort());
      expect((await t.api.get('/v1/sync')).status).toBe(401);
    });

    it('reports conversations left, removed from, or declined as removed', async () => {
      const owner = await t.api.signUp('so');
      const m = await t.api.signUp('sm');
      await connect(owner, m);
      const group = (await t.api.post('/v1/conversations', { type: 'group', title: 'G', memberIds: [m.id] }, owner.token)).body.id;
      const cursor = (await sync(m)).cursor;
      await t.api.delete(`/v1/conversations/${group}/members/${m.id}`, owner.token);
      const after = await sync(m, cursor);
      expect(after.removed).toEqual([group]);
      expect(after.conversations).toEqual([]);
      const ownerSees = await sync(owner, cursor);
      expect(ownerSees.conversations.map((c) => c.id)).toEqual([group]);
      expect(ownerSees.conversations[0].members.map((x: any) => x.userId)).toEqual([owner.id]);

      const stranger = await t.api.signUp('sx');
      const req = (await t.api.post('/v1/conversations', { type: 'direct', userId: m.id }, stranger.token)).body.id;
      // A request reaches its recipient with its first message.
      expect((await sync(m, after.cursor)).conversations).toEqual([]);
      expect((await send(stranger, req)).status).toBe(201);
      const c2 = (await sync(m, after.cursor));
      expect(c2.conversations.map((c) => c.id)).toEqual([req]);
      expect(c2.conversations[0].myState).toBe('request');
      await t.api.post(`/v1/conversations/${req}/decline`, {}, m.token);
      const declined = await sync(m, c2.cursor);
      expect(declined.removed).toEqual([req]);
      expect(declined.conversations).toEqual([]);
      // Re-added: it comes back as a conversation, not as removed.
      await t.api.post(`/v1/conversations/${group}/members`, { userIds: [m.id] }, owner.token);
      const back = await sync(m, declined.cursor);
      expect(back.conversations.map((c) => c.id)).toEqual([group]);
      expect(back.removed).toEqual([]);
    });

    it('misses no change under concurrent commits', { timeout: 120_000 }, async () => {
      const me = await t.api.signUp('sc');
      const peers: U[] = [];
      const convs: string[] = [];
      for (let i = 0; i < 6; i++) {
        const p = await t.api.signUp('scp');
        await connect(me, p);
        peers.push(p);
        convs.push((await t.api.post('/v1/conversations', { type: 'direct', userId: p.id }, me.token)).body.id);
      }
      const seen = new Map<string, number>();
      let cursor = (await sync(me)).cursor;
      let sending = true;
      const syncer = (async () => {
        while (sending) {
          const s = await sync(me, cursor);
          for (const c of s.conversations) seen.set(c.id, Math.max(seen.get(c.id) ?? 0, c.lastSeq));
          cursor = s.cursor;
        }
      })();
      await Promise.all(
        peers.map(async (p, i) => {
          for (let k = 0; k < 25; k++) expect((await send(p, convs[i]!)).status).toBe(201);
        }),
      );
      sending = false;
      await syncer;
      const last = await sync(me, cursor);
      for (const c of last.conversations) seen.set(c.id, Math.max(seen.get(c.id) ?? 0, c.lastSeq));
      for (const id of convs) expect(seen.get(id), id).toBe(25);
    });

    it('a client’s state plus the events it was sent equals a fresh sync (verify_action)', { timeout: 60_000 }, async () => {
      const events: DomainEvent[] = [];
      const emit = t.server.ctx.emit;
      t.server.ctx.emit = (e) => {
        events.push(e);
        emit(e);
      };
      try {
        const owner = await t.api.signUp('va');
        const m1 = await t.api.signUp('vb');
        const m2 = await t.api.signUp('vc');
        const stranger = await t.api.signUp('vd');
        await connect(owner, m1);
        await connect(owner, m2);
        await connect(m1, m2);
        const users = [owner, m1, m2, stranger];
        // Each client starts from a full sync, then only applies the events addressed to it.
        const state = new Map<string, Map<string, any>>();
        for (const u of users) state.set(u.id, new Map((await sync(u)).conversations.map((c) => [c.id, c])));
        const from = events.length;

        const group = (await t.api.post('/v1/conversations', { type: 'group', title: 'V', memberIds: [m1.id] }, owner.token)).body.id;
        await send(owner, group);
        await t.api.post(`/v1/conversations/${group}/members`, { userIds: [m2.id] }, owner.token);
        await t.api.patch(`/v1/conversations/${group}`, { title: 'V2' }, owner.token);
        await t.api.patch(`/v1/conversations/${group}/members/${m1.id}`, { role: 'admin' }, owner.token);
        await send(m2, group);
        await t.api.post(`/v1/conversations/${group}/read`, { seq: 10 }, m1.token);
        await t.api.put(`/v1/conversations/${group}/settings`, { muted: true }, m2.token);
        await t.api.delete(`/v1/conversations/${group}/members/${m2.id}`, m1.token);
        const req = (await t.api.post('/v1/conversations', { type: 'direct', userId: m2.id }, stranger.token)).body.id;
        await send(stranger, req);
        await t.api.post(`/v1/conversations/${req}/accept`, {}, m2.token);
        const dm = (await t.api.post('/v1/conversations', { type: 'direct', userId: m1.id }, owner.token)).body.id;
        await send(m1, dm);
        await t.api.delete(`/v1/conversations/${group}/members/${owner.id}`, owner.token);

        for (const e of events.slice(from)) {
          if (!('recipientIds' in e)) continue;
          for (const userId of e.recipientIds) {
            const mine = state.get(userId);
            const u = users.find((x) => x.id === userId);
            if (!mine || !u) continue;
            if (e.type === 'conversation.changed') {
              const res = await t.api.get(`/v1/conversations/${e.conversationId}`, u.token);
              if (res.status === 200) mine.set(e.conversationId, res.body);
            } else if (e.type === 'conversation.removed') {
              mine.delete(e.conversationId);
            } else if (e.type === 'message') {
              const c = mine.get(e.conversationId);
              if (c) c.lastSeq = Math.max(c.lastSeq, e.envelope.seq);
            }
          }
        }
        for (const u of users) {
          const fresh = (await sync(u)).conversations;
          const mine = state.get(u.id)!;
          expect([...mine.keys()].sort(), u.username).toEqual(fresh.map((c) => c.id).sort());
          for (const c of fresh) {
            const held = mine.get(c.id);
            expect({ lastSeq: held.lastSeq, title: held.title, members: held.members, muted: held.muted, myState: held.myState }, `${u.username} ${c.id}`).toEqual({
              lastSeq: c.lastSeq,
              title: c.title,
              members: c.members,
              muted: c.muted,
              myState: c.myState,
            });
          }
        }
      } finally {
        t.server.ctx.emit = emit;
      }
    });
  });
}
