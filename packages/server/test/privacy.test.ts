/**
 * The privacy matrix: every setting × every relationship between two people, through the
 * real HTTP API and the socket — what each side may and may not do and see.
 *
 * A is the actor, B the one whose settings apply. Relationships are as A stands toward B.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import { WsClient, type Frame } from './realtime-client.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;
type Audience = 'everyone' | 'connections' | 'nobody';

const AUDIENCES: Audience[] = ['everyone', 'connections', 'nobody'];
const RELATIONS = ['stranger', 'requested-by-me', 'requested-by-them', 'connected', 'blocked-by-them', 'blocked-by-me'] as const;
type Relation = (typeof RELATIONS)[number];

const isBlocked = (r: string) => r === 'blocked-by-them' || r === 'blocked-by-me';
const allows = (audience: Audience, connected: boolean) => audience === 'everyone' || (audience === 'connections' && connected);

/** Where a direct conversation A opens lands for B: their inbox, their requests, or nowhere (403). */
function expectedOpen(who: Audience, rel: Relation): 'active' | 'request' | 'denied' {
  if (isBlocked(rel)) return 'denied';
  const connected = rel === 'connected';
  if (!allows(who, connected)) return 'denied';
  return connected ? 'active' : 'request';
}

for (const dialect of DIALECTS) {
  describe(`privacy matrix [${dialect}]`, () => {
    let t: TestServer;
    const sockets: WsClient[] = [];
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => {
      for (const s of sockets) s.close();
      await t?.close();
    });

    const privacy = async (u: U, patch: Record<string, unknown>) => expect((await t.api.patch('/v1/me/privacy', patch, u.token)).status).toBe(200);
    let n = 0;
    const send = (u: U, conversationId: string) =>
      t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: `p${++n}`, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: `m${n}` }) } }, u.token);
    const socket = async (u: U) => {
      const { client } = await WsClient.connect(t.wsUrl, u.token);
      sockets.push(client);
      return client;
    };

    async function relate(a: U, b: U, rel: Relation | 'request-pending'): Promise<string | undefined> {
      switch (rel) {
        case 'stranger':
          return undefined;
        case 'requested-by-me':
          expect((await t.api.post(`/v1/connections/${b.id}`, undefined, a.token)).body.state).toBe('outgoing');
          return undefined;
        case 'requested-by-them':
          expect((await t.api.post(`/v1/connections/${a.id}`, undefined, b.token)).body.state).toBe('outgoing');
          return undefined;
        case 'connected':
          await t.api.post(`/v1/connections/${b.id}`, undefined, a.token);
          expect((await t.api.post(`/v1/connections/${a.id}/accept`, undefined, b.token)).status).toBe(200);
          return undefined;
        case 'blocked-by-them':
          expect((await t.api.put(`/v1/blocks/${a.id}`, undefined, b.token)).status).toBe(204);
          return undefined;
        case 'blocked-by-me':
          expect((await t.api.put(`/v1/blocks/${b.id}`, undefined, a.token)).status).toBe(204);
          return undefined;
        case 'request-pending': {
          // A writes to B, a stranger who accepts messages from everyone (the default): a message request.
          const conv = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
          expect(conv.status).toBe(201);
          expect((await send(a, conv.body.id)).status).toBe(201);
          return conv.body.id;
        }
      }
    }

    /** The answer for "your settings forbid it", to compare blocks against: it must be the same. */
    let denial: unknown;
    beforeAll(async () => {
      const a = await t.api.signUp('ref_a');
      const b = await t.api.signUp('ref_b');
      await privacy(b, { whoCanMessage: 'nobody' });
      const res = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
      expect(res.status).toBe(403);
      denial = res.body;
    });

    describe('whoCanMessage × relationship: opening a direct conversation', () => {
      for (const who of AUDIENCES) {
        for (const rel of RELATIONS) {
          const expected = expectedOpen(who, rel);
          it(`whoCanMessage=${who}, ${rel} → ${expected}`, async () => {
            const a = await t.api.signUp('wa');
            const b = await t.api.signUp('wb');
            await relate(a, b, rel);
            await privacy(b, { whoCanMessage: who });
            const res = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
            if (expected === 'denied') {
              expect(res.status).toBe(403);
              // Never reveals a block: the very same answer as a privacy setting.
              expect(res.body).toEqual(denial);
              expect((await t.api.get('/v1/conversations?folder=requests', b.token)).body.conversations).toEqual([]);
              return;
            }
            expect(res.status).toBe(201);
            expect(res.body.myState).toBe('active');
            const view = await t.api.get(`/v1/conversations/${res.body.id}`, b.token);
            expect(view.body.myState).toBe(expected);
            expect((await send(a, res.body.id)).status).toBe(201);
            const folder = (f: string) => t.api.get(`/v1/conversations?folder=${f}`, b.token).then((r) => r.body.conversations.map((c: any) => c.id));
            expect(await folder(expected === 'request' ? 'requests' : 'inbox')).toContain(res.body.id);
            expect(await folder(expected === 'request' ? 'inbox' : 'requests')).not.toContain(res.body.id);
          });
        }
      }
    });

    describe('whoCanAddToGroups × relationship: creating a group with them, and adding them later', () => {
      for (const who of AUDIENCES) {
        for (const rel of RELATIONS) {
          const added = !isBlocked(rel) && allows(who, rel === 'connected');
          it(`whoCanAddToGroups=${who}, ${rel} → ${added ? 'added' : 'not_allowed'}`, async () => {
            const a = await t.api.signUp('ga');
            const b = await t.api.signUp('gb');
            await relate(a, b, rel);
            await privacy(b, { whoCanAddToGroups: who });
            const created = await t.api.post('/v1/conversations', { type: 'group', title: 'matrix', memberIds: [b.id] }, a.token);
            expect(created.status).toBe(201);
            const later = await t.api.post('/v1/conversations', { type: 'group', title: 'later', memberIds: [] }, a.token);
            const add = await t.api.post(`/v1/conversations/${later.body.id}/members`, { userIds: [b.id] }, a.token);
            for (const res of [created, add]) {
              const memberIds = res.body.members.map((m: any) => m.userId);
              if (added) {
                expect(res.body.notAdded).toEqual([]);
                expect(memberIds).toContain(b.id);
              } else {
                expect(res.body.notAdded).toEqual([{ userId: b.id, reason: 'not_allowed' }]);
                expect(memberIds).not.toContain(b.id);
              }
            }
            expect((await t.api.get(`/v1/conversations/${created.body.id}`, b.token)).status).toBe(added ? 200 : 404);
          });
        }
      }
    });

    describe('profiles × relationship', () => {
      for (const rel of RELATIONS) {
        const hidden = rel === 'blocked-by-them';
        it(`${rel} → their profile is ${hidden ? 'not found' : 'visible'}, mine is ${rel === 'blocked-by-me' ? 'not found' : 'visible'} to them`, async () => {
          const a = await t.api.signUp('fa');
          const b = await t.api.signUp('fb');
          await relate(a, b, rel);
          expect((await t.api.get(`/v1/users/${b.id}`, a.token)).status).toBe(hidden ? 404 : 200);
          expect((await t.api.get(`/v1/users?query=${b.username}`, a.token)).body.users.map((u: any) => u.id)).toEqual(hidden ? [] : [b.id]);
          expect((await t.api.get(`/v1/users/${a.id}`, b.token)).status).toBe(rel === 'blocked-by-me' ? 404 : 200);
        });
      }
    });

    describe('presence and typing × relationship, over the socket', () => {
      const SOCKET_RELATIONS = ['stranger', 'connected', 'blocked-by-them', 'blocked-by-me', 'request-pending'] as const;
      for (const presence of AUDIENCES) {
        for (const rel of SOCKET_RELATIONS) {
          const seesPresence = !isBlocked(rel) && rel !== 'request-pending' && allows(presence, rel === 'connected');
          const seesGroupTyping = !isBlocked(rel);
          it(`presence=${presence}, ${rel} → presence ${seesPresence ? 'seen' : 'hidden'}, typing in a shared group ${seesGroupTyping ? 'seen' : 'hidden'}`, async () => {
            const a = await t.api.signUp('sa');
            const b = await t.api.signUp('sb');
            // C shares a group with both, and shows everyone its presence: it proves the sockets deliver.
            const c = await t.api.signUp('sc');
            for (const u of [a, b]) await privacy(u, { whoCanAddToGroups: 'everyone' });
            await privacy(c, { presence: 'everyone' });
            const group = await t.api.post('/v1/conversations', { type: 'group', title: 'shared', memberIds: [a.id, b.id] }, c.token);
            expect(group.body.notAdded).toEqual([]);
            const direct = await relate(a, b, rel);
            await privacy(b, { presence });

            const aWs = await socket(a);
            const bWs = await socket(b);
            const cWs = await socket(c);
            const presenceOfB = (f: Frame) => f.userId === b.id;
            // What must arrive is waited for; what must not is checked once a later event (C's) has come, and a while after.
            await aWs.next('presence', (f) => f.userId === c.id && f.status === 'online');
            if (seesPresence) await aWs.next('presence', presenceOfB);
            else await aWs.none('presence', presenceOfB);

            // Someone arriving later learns who is online from the snapshot (complete once connected): the same rule.
            const aLater = await socket(a);
            expect(aLater.frames.some((f) => f.type === 'presence' && f.userId === c.id)).toBe(true);
            expect(aLater.frames.some((f) => f.type === 'presence' && presenceOfB(f))).toBe(seesPresence);

            bWs.send({ type: 'typing', conversationId: group.body.id, active: true });
            if (direct) bWs.send({ type: 'typing', conversationId: direct, active: true });
            await bWs.sync();
            cWs.send({ type: 'typing', conversationId: group.body.id, active: true });
            await aWs.next('typing', (f) => f.userId === c.id);
            const inGroup = (f: Frame) => f.userId === b.id && f.conversationId === group.body.id;
            if (seesGroupTyping) await aWs.next('typing', inGroup);
            else await aWs.none('typing', inGroup);
            // Nothing of the recipient crosses an unanswered request.
            expect(aWs.frames.filter((f) => f.type === 'typing' && f.userId === b.id && f.conversationId === direct)).toEqual([]);

            if (rel === 'request-pending' && presence === 'everyone') {
              // Once B accepts, A sees B as everyone does.
              expect((await t.api.post(`/v1/conversations/${direct}/accept`, undefined, b.token)).status).toBe(200);
              const aAfter = await socket(a);
              await aAfter.next('presence', (f) => f.userId === c.id);
              await aAfter.next('presence', (f) => f.userId === b.id && f.status === 'online');
            }
          });
        }
      }
    });

    it('a stricter presence setting takes effect at once: those shut out see the user go offline', async () => {
      const a = await t.api.signUp('xa');
      const b = await t.api.signUp('xb');
      await relate(a, b, 'connected');
      const aWs = await socket(a);
      await socket(b);
      await aWs.next('presence', (f) => f.userId === b.id && f.status === 'online');
      await privacy(b, { presence: 'nobody' });
      expect(await aWs.next('presence', (f) => f.userId === b.id)).toMatchObject({ status: 'offline', lastSeenAt: null });
      // Loosening it again is seen at the next snapshot.
      await privacy(b, { presence: 'connections' });
      const aLater = await socket(a);
      expect(aLater.frames.some((f) => f.type === 'presence' && f.userId === b.id && f.status === 'online')).toBe(true);
    });

    describe('readReceipts: reciprocal, as in WhatsApp', () => {
      for (const mine of [true, false]) {
        for (const theirs of [true, false]) {
          const shown = mine && theirs;
          it(`mine=${mine}, theirs=${theirs} → their read marker ${shown ? 'reaches' : 'does not reach'} me, and mine them; delivery markers always do`, async () => {
            const a = await t.api.signUp('ra');
            const b = await t.api.signUp('rb');
            await relate(a, b, 'connected');
            await privacy(a, { readReceipts: mine });
            await privacy(b, { readReceipts: theirs });
            const conv = (await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).body.id;
            const aWs = await socket(a);
            const bWs = await socket(b);

            const first = (await send(a, conv)).body.seq;
            expect((await t.api.post(`/v1/conversations/${conv}/read`, { seq: first }, b.token)).status).toBeLessThan(300);
            const second = (await send(a, conv)).body.seq;
            expect((await t.api.post(`/v1/conversations/${conv}/delivered`, { seq: second }, b.token)).status).toBeLessThan(300);
            await aWs.next('marker', (f) => f.userId === b.id && f.kind === 'delivered' && f.seq === second);
            if (shown) await aWs.next('marker', (f) => f.userId === b.id && f.kind === 'read' && f.seq === first);
            else await aWs.none('marker', (f) => f.userId === b.id && f.kind === 'read');

            const reply = (await send(b, conv)).body.seq;
            expect((await t.api.post(`/v1/conversations/${conv}/read`, { seq: reply }, a.token)).status).toBeLessThan(300);
            const reply2 = (await send(b, conv)).body.seq;
            await t.api.post(`/v1/conversations/${conv}/delivered`, { seq: reply2 }, a.token);
            await bWs.next('marker', (f) => f.userId === a.id && f.kind === 'delivered' && f.seq === reply2);
            if (shown) await bWs.next('marker', (f) => f.userId === a.id && f.kind === 'read' && f.seq === reply);
            else await bWs.none('marker', (f) => f.userId === a.id && f.kind === 'read');
          });
        }
      }

      it('read markers never cross a block, even in a group both are in', async () => {
        const a = await t.api.signUp('rga');
        const b = await t.api.signUp('rgb');
        const c = await t.api.signUp('rgc');
        for (const u of [a, b]) await privacy(u, { whoCanAddToGroups: 'everyone' });
        const group = (await t.api.post('/v1/conversations', { type: 'group', title: 'readers', memberIds: [a.id, b.id] }, c.token)).body.id;
        await relate(a, b, 'blocked-by-them');
        const aWs = await socket(a);
        const cWs = await socket(c);
        const seq = (await send(c, group)).body.seq;
        await t.api.post(`/v1/conversations/${group}/read`, { seq }, b.token);
        await cWs.next('marker', (f) => f.userId === b.id && f.kind === 'read');
        await t.api.post(`/v1/conversations/${group}/read`, { seq }, c.token);
        await aWs.next('marker', (f) => f.userId === c.id && f.kind === 'read');
        await aWs.none('marker', (f) => f.userId === b.id && f.kind === 'read');
      });
    });

    describe('an unanswered message request', () => {
      it('is stopped at once when the recipient stops accepting messages from strangers', async () => {
        const a = await t.api.signUp('ua');
        const b = await t.api.signUp('ub');
        const conv = (await relate(a, b, 'request-pending'))!;
        await privacy(b, { whoCanMessage: 'connections' });
        const res = await send(a, conv);
        expect(res.status).toBe(403);
        expect(res.body).toEqual(denial);
        // An accepted conversation is not: settings gate new contact, not conversations already agreed to.
        const c = await t.api.signUp('uc');
        await relate(c, b, 'connected');
        const agreed = (await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, c.token)).body.id;
        await privacy(b, { whoCanMessage: 'nobody' });
        expect((await send(c, agreed)).status).toBe(201);
      });

      it('the sender sees no read markers, typing or presence of the recipient; at most 3 messages; after accepting, all of it', async () => {
        const a = await t.api.signUp('qa');
        const b = await t.api.signUp('qb');
        await privacy(b, { presence: 'everyone' });
        const conv = (await relate(a, b, 'request-pending'))!;
        const aWs = await socket(a);
        const bWs = await socket(b);
        await aWs.none('presence', (f) => f.userId === b.id);

        expect((await send(a, conv)).status).toBe(201);
        const third = await send(a, conv);
        expect(third.status).toBe(201);
        const fourth = await send(a, conv);
        expect(fourth.status).toBe(403);
        expect(fourth.body.error.code).toBe('request_pending');
        // The recipient reads and types in the request: the sender hears of neither.
        await t.api.post(`/v1/conversations/${conv}/read`, { seq: third.body.seq }, b.token);
        bWs.send({ type: 'typing', conversationId: conv, active: true });
        await bWs.sync();
        await new Promise((r) => setTimeout(r, 200));
        expect(aWs.frames.filter((f) => (f.type === 'marker' || f.type === 'typing') && f.userId === b.id)).toEqual([]);

        expect((await t.api.post(`/v1/conversations/${conv}/accept`, undefined, b.token)).status).toBe(200);
        expect((await send(a, conv)).status).toBe(201);
        bWs.send({ type: 'typing', conversationId: conv, active: true });
        expect(await aWs.next('typing', (f) => f.userId === b.id)).toMatchObject({ conversationId: conv, active: true });
        const last = (await send(a, conv)).body.seq;
        await t.api.post(`/v1/conversations/${conv}/read`, { seq: last }, b.token);
        expect(await aWs.next('marker', (f) => f.userId === b.id && f.kind === 'read')).toMatchObject({ seq: last });
      });
    });
  });
}
