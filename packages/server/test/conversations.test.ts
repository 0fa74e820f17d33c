import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import { createConversations } from '../src/modules/conversations/index.ts';
import { createGraph } from '../src/modules/graph/index.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

let n = 0;
const cid = () => `c-${Date.now().toString(36)}-${n++}`;
const text = (t: string) => ({ encoding: 'plain', data: JSON.stringify({ type: 'text', text: t }) });
const systemOf = (env: any) => JSON.parse(env.content.data);

for (const dialect of DIALECTS) {
  describe(`conversations [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect, { groupMemberCap: 6 });
    });
    afterAll(async () => t?.close());

    const signUp = (p: string) => t.api.signUp(p);
    async function connect(a: U, b: U) {
      expect((await t.api.post(`/v1/connections/${b.id}`, {}, a.token)).status).toBeLessThan(300);
      expect((await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token)).status).toBeLessThan(300);
    }
    const createDirect = (a: U, b: U) => t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
    const createGroup = (owner: U, members: U[], title = 'Team') => t.api.post('/v1/conversations', { type: 'group', title, memberIds: members.map((m) => m.id) }, owner.token);
    const history = async (u: U, conv: string) => (await t.api.get(`/v1/conversations/${conv}/messages?limit=200`, u.token)).body.messages as any[];
    async function groupOf(owner: U, count: number): Promise<{ id: string; members: U[] }> {
      const members: U[] = [];
      for (let i = 0; i < count; i++) {
        const m = await signUp('gm');
        await connect(owner, m);
        members.push(m);
      }
      const res = await createGroup(owner, members);
      expect(res.status).toBe(201);
      return { id: res.body.id, members };
    }

    describe('direct', () => {
      it('creates one per pair: 201 new, then 200 the same one from either side', async () => {
        const a = await signUp('da');
        const b = await signUp('db');
        await connect(a, b);
        const first = await createDirect(a, b);
        expect(first.status).toBe(201);
        expect(first.body).toMatchObject({ type: 'direct', title: null, myState: 'active', lastSeq: 0, unreadCount: 0, muted: false, disappearingSeconds: 0 });
        expect(first.body.members.map((m: any) => m.userId).sort()).toEqual([a.id, b.id].sort());
        expect(first.body.members.every((m: any) => m.state === 'active')).toBe(true);
        const again = await createDirect(a, b);
        expect(again.status).toBe(200);
        expect(again.body.id).toBe(first.body.id);
        const reverse = await createDirect(b, a);
        expect(reverse.status).toBe(200);
        expect(reverse.body.id).toBe(first.body.id);
      });

      it('a stranger lands in the requests folder; a connection in the inbox', async () => {
        const a = await signUp('sa');
        const b = await signUp('sb');
        const res = await createDirect(a, b);
        expect(res.status).toBe(201);
        expect(res.body.myState).toBe('active');
        expect(res.body.members.find((m: any) => m.userId === b.id).state).toBe('request');
        const bView = await t.api.get(`/v1/conversations/${res.body.id}`, b.token);
        expect(bView.body.myState).toBe('request');
        // Opening it tells the stranger nothing; its first message puts it in their requests.
        expect((await t.api.get('/v1/conversations?folder=requests', b.token)).body.conversations).toEqual([]);
        const first = await t.api.post(`/v1/conversations/${res.body.id}/messages`, { clientId: 'first', kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: 'hi' }) } }, a.token);
        expect(first.status).toBe(201);
        const requests = await t.api.get('/v1/conversations?folder=requests', b.token);
        expect(requests.body.conversations.map((c: any) => c.id)).toEqual([res.body.id]);
        expect((await t.api.get('/v1/conversations', b.token)).body.conversations).toEqual([]);
        expect((await t.api.get('/v1/conversations?folder=inbox', a.token)).body.conversations.map((c: any) => c.id)).toEqual([res.body.id]);
      });

      it('privacy and blocks both answer 403 messaging_not_allowed, with the same body', async () => {
        const a = await signUp('pa');
        const closed = await signUp('pclosed');
        expect((await t.api.patch('/v1/me/privacy', { whoCanMessage: 'nobody' }, closed.token)).status).toBe(200);
        const blocker = await signUp('pblocker');
        expect((await t.api.put(`/v1/blocks/${a.id}`, {}, blocker.token)).status).toBeLessThan(300);
        const byPrivacy = await createDirect(a, closed);
        const byBlock = await createDirect(a, blocker);
        expect(byPrivacy.status).toBe(403);
        expect(byPrivacy.body.error.code).toBe('messaging_not_allowed');
        expect(byBlock.status).toBe(403);
        expect(byBlock.body).toEqual(byPrivacy.body);
        // The blocker cannot reach them either.
        expect((await createDirect(blocker, a)).status).toBe(403);
        const conn = await signUp('pconn');
        expect((await t.api.patch('/v1/me/privacy', { whoCanMessage: 'connections' }, conn.token)).status).toBe(200);
        expect((await createDirect(a, conn)).status).toBe(403);
        await connect(a, conn);
        expect((await createDirect(a, conn)).status).toBe(201);
      });

      it('refuses bad input with 400 and the field; unknown users 404; no token 401', async () => {
        const a = await signUp('ba');
        for (const body of [{}, { type: 'direct' }, { type: 'direct', userId: '' }, { type: 'direct', userId: 'has space' }, { type: 'channel' }, { type: 'group' }, { type: 'group', title: '  ' }, { type: 'group', title: 'x'.repeat(129) }, 'nope', []]) {
          const res = await t.api.post('/v1/conversations', body, a.token);
          expect(res.status, JSON.stringify(body)).toBe(400);
          expect(res.body.error.code).toBe('invalid_request');
        }
        const self = await t.api.post('/v1/conversations', { type: 'direct', userId: a.id }, a.token);
        expect(self.status).toBe(400);
        expect(self.body.error.data.field).toBe('body.userId');
        expect((await t.api.post('/v1/conversations', { type: 'direct', userId: 'no-such-user' }, a.token)).status).toBe(404);
        expect((await t.api.post('/v1/conversations', { type: 'direct', userId: a.id })).status).toBe(401);
        expect((await t.api.get('/v1/conversations')).status).toBe(401);
        expect((await t.api.get('/v1/conversations?folder=spam', a.token)).status).toBe(400);
        expect((await t.api.get('/v1/conversations?limit=0', a.token)).status).toBe(400);
        expect((await t.api.get('/v1/conversations?limit=201', a.token)).status).toBe(400);
        expect((await t.api.get('/v1/conversations?cursor=garbage', a.token)).status).toBe(400);
      });

      it('is 404 for a non-member, and cannot get a title', async () => {
        const a = await signUp('na');
        const b = await signUp('nb');
        const c = await signUp('nc');
        await connect(a, b);
        const conv = (await createDirect(a, b)).body.id;
        const res = await t.api.get(`/v1/conversations/${conv}`, c.token);
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('not_found');
        expect((await t.api.get('/v1/conversations/nope', a.token)).status).toBe(404);
        const titled = await t.api.patch(`/v1/conversations/${conv}`, { title: 'x' }, a.token);
        expect(titled.status).toBe(400);
        expect(titled.body.error.data.field).toBe('body.title');
        expect((await t.api.post(`/v1/conversations/${conv}/members`, { userIds: [c.id] }, a.token)).status).toBe(403);
        expect((await t.api.delete(`/v1/conversations/${conv}/members/${b.id}`, a.token)).status).toBe(403);
      });

      it('either side sets the disappearing timer; envelopes then carry expiresAt', async () => {
        const a = await signUp('ta');
        const b = await signUp('tb');
        await connect(a, b);
        const conv = (await createDirect(a, b)).body.id;
        expect((await t.api.patch(`/v1/conversations/${conv}`, { disappearingSeconds: 42 }, b.token)).status).toBe(400);
        const res = await t.api.patch(`/v1/conversations/${conv}`, { disappearingSeconds: 3600 }, b.token);
        expect(res.status).toBe(200);
        expect(res.body.disappearingSeconds).toBe(3600);
        const sent = await t.api.post(`/v1/conversations/${conv}/messages`, { clientId: cid(), kind: 'message', content: text('poof') }, a.token);
        const [sys, msg] = await history(a, conv);
        expect(systemOf(sys)).toEqual({ type: 'system', event: 'disappearing_changed', actorId: b.id, data: { seconds: 3600 } });
        expect(msg.id).toBe(sent.body.id);
        expect(Date.parse(msg.expiresAt) - Date.parse(msg.createdAt)).toBe(3600_000);
      });
    });

    describe('groups', () => {
      it('creates with notAdded for those whose settings or blocks forbid it (a block reads as not_allowed)', async () => {
        const owner = await signUp('go');
        const friend = await signUp('gf');
        await connect(owner, friend);
        const stranger = await signUp('gs');
        const open = await signUp('gopen');
        expect((await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, open.token)).status).toBe(200);
        const blocker = await signUp('gb');
        expect((await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, blocker.token)).status).toBe(200);
        expect((await t.api.put(`/v1/blocks/${owner.id}`, {}, blocker.token)).status).toBeLessThan(300);
        const res = await t.api.post('/v1/conversations', { type: 'group', title: ' Trip ', memberIds: [friend.id, stranger.id, open.id, blocker.id, 'ghost', owner.id, friend.id] }, owner.token);
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({ type: 'group', title: 'Trip', myState: 'active', lastSeq: 0 });
        const members = Object.fromEntries(res.body.members.map((m: any) => [m.userId, m.role]));
        expect(members).toEqual({ [owner.id]: 'owner', [friend.id]: 'member', [open.id]: 'member' });
        expect(res.body.notAdded).toEqual(
          expect.arrayContaining([
            { userId: stranger.id, reason: 'not_allowed' },
            { userId: blocker.id, reason: 'not_allowed' },
            { userId: 'ghost', reason: 'not_found' },
          ]),
        );
        expect(res.body.notAdded).toHaveLength(3);
        expect((await t.api.get(`/v1/conversations/${res.body.id}`, friend.token)).body.myState).toBe('active');
        expect((await t.api.get(`/v1/conversations/${res.body.id}`, stranger.token)).status).toBe(404);
      });

      it('caps members at groupMemberCap (member_limit), on create and on add', async () => {
        const owner = await signUp('cap');
        const people: U[] = [];
        for (let i = 0; i < 7; i++) {
          const p = await signUp('capm');
          await connect(owner, p);
          people.push(p);
        }
        const res = await createGroup(owner, people.slice(0, 6));
        expect(res.body.members).toHaveLength(6);
        expect(res.body.notAdded).toEqual([{ userId: people[5]!.id, reason: 'member_limit' }]);
        const add = await t.api.post(`/v1/conversations/${res.body.id}/members`, { userIds: [people[6]!.id] }, owner.token);
        expect(add.status).toBe(200);
        expect(add.body.notAdded).toEqual([{ userId: people[6]!.id, reason: 'member_limit' }]);
      });

      it('admins change the title; members cannot; every change leaves a system envelope', async () => {
        const owner = await signUp('to');
        const { id, members } = await groupOf(owner, 2);
        const [m1, m2] = members as [U, U];
        const denied = await t.api.patch(`/v1/conversations/${id}`, { title: 'Mine' }, m1.token);
        expect(denied.status).toBe(403);
        expect(denied.body.error.code).toBe('forbidden');
        expect((await t.api.patch(`/v1/conversations/${id}`, { title: 'Renamed' }, owner.token)).body.title).toBe('Renamed');
        expect((await t.api.patch(`/v1/conversations/${id}/members/${m1.id}`, { role: 'admin' }, owner.token)).status).toBe(200);
        expect((await t.api.patch(`/v1/conversations/${id}`, { title: 'By admin' }, m1.token)).body.title).toBe('By admin');
        expect((await t.api.patch(`/v1/conversations/${id}`, { title: 'nope' }, m2.token)).status).toBe(403);
        expect((await t.api.patch(`/v1/conversations/${id}`, { bogus: 1 }, owner.token)).status).toBe(400);
        const events = (await history(m2, id)).map((e) => (e.kind === 'system' ? systemOf(e) : null));
        expect(events.map((e) => e.event)).toEqual(['title_changed', 'role_changed', 'title_changed']);
        expect(events[0]).toMatchObject({ actorId: owner.id, data: { title: 'Renamed' } });
        expect(events[1]).toMatchObject({ actorId: owner.id, data: { userId: m1.id, role: 'admin' } });
        expect(events[2]).toMatchObject({ actorId: m1.id, data: { title: 'By admin' } });
      });

      it('adds members (admins only); a new member reads from their joining on, not before', async () => {
        const owner = await signUp('ao');
        const { id, members } = await groupOf(owner, 1);
        const [m1] = members as [U];
        await t.api.post(`/v1/conversations/${id}/messages`, { clientId: cid(), kind: 'message', content: text('before') }, owner.token);
        const late = await signUp('late');
        await connect(owner, late);
        await connect(m1, late);
        const byMember = await t.api.post(`/v1/conversations/${id}/members`, { userIds: [late.id] }, m1.token);
        expect(byMember.status).toBe(403);
        const added = await t.api.post(`/v1/conversations/${id}/members`, { userIds: [late.id, m1.id] }, owner.token);
        expect(added.status).toBe(200);
        expect(added.body.notAdded).toEqual([]);
        expect(added.body.members.map((m: any) => m.userId)).toContain(late.id);
        await t.api.post(`/v1/conversations/${id}/messages`, { clientId: cid(), kind: 'message', content: text('after') }, owner.token);
        const seen = await history(late, id);
        expect(seen.map((e) => e.kind)).toEqual(['system', 'message']);
        expect(systemOf(seen[0])).toMatchObject({ event: 'members_added', actorId: owner.id, data: { userIds: [late.id] } });
        expect(seen[1].content).toEqual(text('after'));
        expect((await t.api.get(`/v1/conversations/${id}/messages?after=0`, late.token)).body.messages).toHaveLength(2);
        expect((await t.api.get(`/v1/conversations/${id}`, late.token)).body.unreadCount).toBe(1);
        for (const body of [{}, { userIds: [] }, { userIds: ['bad id'] }]) {
          expect((await t.api.post(`/v1/conversations/${id}/members`, body, owner.token)).status).toBe(400);
        }
      });

      it('removes (admins; only the owner removes admins; nobody removes the owner); a former member gets 404', async () => {
        const owner = await signUp('ro');
        const { id, members } = await groupOf(owner, 3);
        const [admin, m1, m2] = members as [U, U, U];
        await t.api.patch(`/v1/conversations/${id}/members/${admin.id}`, { role: 'admin' }, owner.token);
        expect((await t.api.delete(`/v1/conversations/${id}/members/${m2.id}`, m1.token)).status).toBe(403);
        expect((await t.api.delete(`/v1/conversations/${id}/members/${owner.id}`, admin.token)).status).toBe(403);
        expect((await t.api.delete(`/v1/conversations/${id}/members/${m1.id}`, admin.token)).status).toBe(204);
        expect((await t.api.get(`/v1/conversations/${id}`, m1.token)).status).toBe(404);
        expect((await t.api.get(`/v1/conversations/${id}/messages`, m1.token)).status).toBe(404);
        expect((await t.api.post(`/v1/conversations/${id}/messages`, { clientId: cid(), kind: 'message', content: text('x') }, m1.token)).status).toBe(404);
        expect((await t.api.delete(`/v1/conversations/${id}/members/${m1.id}`, admin.token)).status).toBe(404);
        await t.api.patch(`/v1/conversations/${id}/members/${m2.id}`, { role: 'admin' }, owner.token);
        expect((await t.api.delete(`/v1/conversations/${id}/members/${m2.id}`, admin.token)).status).toBe(403);
        expect((await t.api.delete(`/v1/conversations/${id}/members/${m2.id}`, owner.token)).status).toBe(204);
        const sys = (await history(owner, id)).filter((e) => e.kind === 'system').map(systemOf);
        expect(sys.filter((s) => s.event === 'member_removed').map((s) => s.data.userId)).toEqual([m1.id, m2.id]);
      });

      it('an owner who leaves hands ownership to the longest-standing admin, else member', async () => {
        const owner = await signUp('lo');
        const { id, members } = await groupOf(owner, 3);
        const [first, second, third] = members as [U, U, U];
        await t.api.patch(`/v1/conversations/${id}/members/${third.id}`, { role: 'admin' }, owner.token);
        expect((await t.api.delete(`/v1/conversations/${id}/members/${owner.id}`, owner.token)).status).toBe(204);
        let view = (await t.api.get(`/v1/conversations/${id}`, first.token)).body;
        expect(view.members.find((m: any) => m.userId === third.id).role).toBe('owner');
        expect(view.members.map((m: any) => m.userId)).not.toContain(owner.id);
        const left = (await history(first, id)).filter((e) => e.kind === 'system').map(systemOf).at(-1);
        expect(left).toMatchObject({ event: 'member_left', actorId: owner.id, data: { userId: owner.id, newOwnerId: third.id } });
        expect((await t.api.delete(`/v1/conversations/${id}/members/${third.id}`, third.token)).status).toBe(204);
        view = (await t.api.get(`/v1/conversations/${id}`, second.token)).body;
        expect(view.members.find((m: any) => m.userId === first.id).role).toBe('owner');
      });

      it('roles: only the owner makes admins or hands ownership over; an admin may step down', async () => {
        const owner = await signUp('rl');
        const { id, members } = await groupOf(owner, 2);
        const [a, b] = members as [U, U];
        expect((await t.api.patch(`/v1/conversations/${id}/members/${b.id}`, { role: 'admin' }, a.token)).status).toBe(403);
        expect((await t.api.patch(`/v1/conversations/${id}/members/${a.id}`, { role: 'admin' }, owner.token)).status).toBe(200);
        expect((await t.api.patch(`/v1/conversations/${id}/members/${b.id}`, { role: 'admin' }, a.token)).status).toBe(403);
        expect((await t.api.patch(`/v1/conversations/${id}/members/${owner.id}`, { role: 'member' }, a.token)).status).toBe(403);
        expect((await t.api.patch(`/v1/conversations/${id}/members/${a.id}`, { role: 'member' }, a.token)).body.members.find((m: any) => m.userId === a.id).role).toBe('member');
        expect((await t.api.patch(`/v1/conversations/${id}/members/${a.id}`, { role: 'chief' }, owner.token)).status).toBe(400);
        expect((await t.api.patch(`/v1/conversations/${id}/members/nobody`, { role: 'admin' }, owner.token)).status).toBe(404);
        const handed = await t.api.patch(`/v1/conversations/${id}/members/${b.id}`, { role: 'owner' }, owner.token);
        expect(handed.status).toBe(200);
        const roles = Object.fromEntries(handed.body.members.map((m: any) => [m.userId, m.role]));
        expect(roles).toEqual({ [owner.id]: 'admin', [a.id]: 'member', [b.id]: 'owner' });
        expect((await t.api.patch(`/v1/conversations/${id}/members/${a.id}`, { role: 'admin' }, owner.token)).status).toBe(403);
      });

      it('invite links: admins create them, anyone with the token joins; blocks toward the inviter are respected', async () => {
        const owner = await signUp('io');
        const { id, members } = await groupOf(owner, 1);
        const [m1] = members as [U];
        expect((await t.api.post(`/v1/conversations/${id}/invites`, {}, m1.token)).status).toBe(403);
        const inv = await t.api.post(`/v1/conversations/${id}/invites`, {}, owner.token);
        expect(inv.status).toBe(200);
        expect(inv.body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
        const joiner = await signUp('ij');
        const joined = await t.api.post(`/v1/invites/${inv.body.token}`, {}, joiner.token);
        expect(joined.status).toBe(200);
        expect(joined.body).toMatchObject({ id, myState: 'active' });
        expect(joined.body.members.find((m: any) => m.userId === joiner.id).role).toBe('member');
        expect((await t.api.post(`/v1/invites/${inv.body.token}`, {}, joiner.token)).body.id).toBe(id);
        const sys = (await history(joiner, id)).map(systemOf);
        expect(sys).toEqual([{ type: 'system', event: 'member_joined', actorId: joiner.id, data: { userId: joiner.id, invitedBy: owner.id } }]);
        const blocked = await signUp('ib');
        await t.api.put(`/v1/blocks/${blocked.id}`, {}, owner.token);
        const refused = await t.api.post(`/v1/invites/${inv.body.token}`, {}, blocked.token);
        expect(refused.status).toBe(403);
        expect(refused.body.error.code).toBe('messaging_not_allowed');
        expect((await t.api.post('/v1/invites/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', {}, joiner.token)).status).toBe(404);
        // Opaque: a token of any other shape is just not found.
        expect((await t.api.post('/v1/invites/short', {}, joiner.token)).status).toBe(404);
        expect((await t.api.post('/v1/invites/not%20a%20token!', {}, joiner.token)).status).toBe(404);
        // The database holds only a hash of the token.
        const stored = await t.server.ctx.db.selectFrom('invites').select('token_hash').where('conversation_id', '=', id).execute();
        expect(stored.map((s) => s.token_hash)).not.toContain(inv.body.token);
        // An invite dies with its creator's admin rights.
        await t.api.patch(`/v1/conversations/${id}/members/${m1.id}`, { role: 'admin' }, owner.token);
        const inv2 = (await t.api.post(`/v1/conversations/${id}/invites`, {}, m1.token)).body.token;
        await t.api.patch(`/v1/conversations/${id}/members/${m1.id}`, { role: 'member' }, owner.token);
        expect((await t.api.post(`/v1/invites/${inv2}`, {}, (await signUp('ix')).token)).status).toBe(404);
      });

      it('mute is per user', async () => {
        const owner = await signUp('mo');
        const { id, members } = await groupOf(owner, 1);
        const res = await t.api.put(`/v1/conversations/${id}/settings`, { muted: true }, owner.token);
        expect(res.status).toBe(200);
        expect(res.body.muted).toBe(true);
        expect((await t.api.get(`/v1/conversations/${id}`, members[0]!.token)).body.muted).toBe(false);
        expect((await t.api.put(`/v1/conversations/${id}/settings`, { muted: 'yes' }, owner.token)).status).toBe(400);
        expect((await t.api.put(`/v1/conversations/${id}/settings`, { muted: true }, (await signUp('mx')).token)).status).toBe(404);
      });
    });

    describe('leaving and coming back', () => {
      it('a member leaves, is 404 meanwhile, and rejoins by invite reading only from the rejoin', async () => {
        const owner = await signUp('rj');
        const { id, members } = await groupOf(owner, 1);
        const [m] = members as [U];
        await t.api.post(`/v1/conversations/${id}/messages`, { clientId: cid(), kind: 'message', content: text('old') }, owner.token);
        expect((await t.api.delete(`/v1/conversations/${id}/members/${m.id}`, m.token)).status).toBe(204);
        expect((await t.api.get(`/v1/conversations/${id}`, m.token)).status).toBe(404);
        await t.api.post(`/v1/conversations/${id}/messages`, { clientId: cid(), kind: 'message', content: text('while away') }, owner.token);
        const token = (await t.api.post(`/v1/conversations/${id}/invites`, {}, owner.token)).body.token;
        expect((await t.api.post(`/v1/invites/${token}`, {}, m.token)).status).toBe(200);
        const seen = await history(m, id);
        expect(seen.map((e) => e.kind)).toEqual(['system']);
        expect(systemOf(seen[0]).event).toBe('member_joined');
        const all = (await history(owner, id)).filter((e) => e.kind === 'system').map((e) => systemOf(e).event);
        expect(all).toEqual(['member_left', 'member_joined']);
      });
    });

    it.runIf(dialect === 'postgres')('a write chosen as a deadlock victim is run again, not failed', async () => {
      const owner = await signUp('dl');
      const x = (await createGroup(owner, [], 'X')).body.id;
      const y = (await createGroup(owner, [], 'Y')).body.id;
      const conversations = createConversations(t.server.ctx, { graph: createGraph(t.server.ctx) });
      let runs = 0;
      let arrived = 0;
      let go!: () => void;
      const bothLocked = new Promise<void>((r) => (go = r));
      const crosswise = (first: string, second: string) =>
        conversations.write(async (trx) => {
          runs++;
          await trx.updateTable('conversations').set({ description: 'a' }).where('id', '=', first).execute();
          if (++arrived === 2) go();
          await bothLocked;
          await trx.updateTable('conversations').set({ description: 'b' }).where('id', '=', second).execute();
        });
      await Promise.all([crosswise(x, y), crosswise(y, x)]);
      expect(runs).toBe(3);
    });

    it('documents every conversation and message route in the OpenAPI', async () => {
      const doc = (await t.api.get('/v1/openapi.json')).body;
      const routes: [string, string][] = [
        ['/v1/conversations', 'post'],
        ['/v1/conversations', 'get'],
        ['/v1/conversations/{id}', 'get'],
        ['/v1/conversations/{id}', 'patch'],
        ['/v1/conversations/{id}/members', 'post'],
        ['/v1/conversations/{id}/members/{userId}', 'delete'],
        ['/v1/conversations/{id}/members/{userId}', 'patch'],
        ['/v1/conversations/{id}/accept', 'post'],
        ['/v1/conversations/{id}/decline', 'post'],
        ['/v1/conversations/{id}/invites', 'post'],
        ['/v1/invites/{token}', 'post'],
        ['/v1/conversations/{id}/settings', 'put'],
        ['/v1/conversations/{id}/messages', 'post'],
        ['/v1/conversations/{id}/messages', 'get'],
        ['/v1/conversations/{id}/messages/{messageId}', 'delete'],
        ['/v1/conversations/{id}/read', 'post'],
        ['/v1/conversations/{id}/delivered', 'post'],
        ['/v1/sync', 'get'],
      ];
      for (const [p, method] of routes) {
        const op = doc.paths[p]?.[method];
        expect(op, `${method} ${p}`).toBeDefined();
        expect(op.tags.length).toBeGreaterThan(0);
        expect(op.summary).toBeTruthy();
      }
    });

    describe('listing', () => {
      it('most recently active first, paged with a cursor, with unread counts', async () => {
        const me = await signUp('lm');
        const ids: string[] = [];
        const peers: U[] = [];
        for (let i = 0; i < 5; i++) {
          const p = await signUp('lp');
          await connect(me, p);
          peers.push(p);
          ids.push((await createDirect(me, p)).body.id);
        }
        // Activity in the oldest conversation brings it to the top.
        await t.api.post(`/v1/conversations/${ids[0]}/messages`, { clientId: cid(), kind: 'message', content: text('up') }, peers[0]!.token);
        await t.api.post(`/v1/conversations/${ids[0]}/messages`, { clientId: cid(), kind: 'message', content: text('up2') }, peers[0]!.token);
        const expected = [ids[0], ids[4], ids[3], ids[2], ids[1]];
        const seen: any[] = [];
        let cursor: string | null = null;
        do {
          const page: any = await t.api.get(`/v1/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, me.token);
          expect(page.status).toBe(200);
          expect(page.body.conversations.length).toBeLessThanOrEqual(2);
          seen.push(...page.body.conversations);
          cursor = page.body.nextCursor;
        } while (cursor);
        expect(seen.map((c) => c.id)).toEqual(expected);
        expect(seen[0]).toMatchObject({ lastSeq: 2, unreadCount: 2 });
        expect(seen[1].unreadCount).toBe(0);
      });
    });
  });
}
