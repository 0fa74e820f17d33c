/**
 * The batched presence rules (one viewer, every subject at once; the candidates of a
 * snapshot; the viewers of an announcement) give exactly the answers of the per-subject
 * rule, `presenceVisibleTo`, over a small graph holding every relationship: connections,
 * blocks both ways, pending and declined message requests, shared groups, and each presence
 * setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerIdsOf } from '../src/modules/conversations/queries.ts';
import { presenceCandidatesFor, presenceViewersOf, presenceVisibleTo, presenceVisibleToViewer } from '../src/modules/graph/visibility.ts';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';

type User = Awaited<ReturnType<TestServer['api']['signUp']>>;

for (const dialect of DIALECTS) {
  describe(`batched presence rules [${dialect}]`, () => {
    let t: TestServer;
    let users: User[] = [];

    beforeAll(async () => {
      t = await startTestServer(dialect);
      const { api } = t;
      users = [];
      for (let i = 0; i < 9; i++) users.push(await api.signUp(`pb${i}`));
      const u = users;
      const ok = (r: { status: number; body: unknown }) => expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
      // Every setting, spread so that each relationship below meets each of them.
      const presence = ['everyone', 'connections', 'nobody'];
      for (const [i, x] of u.entries()) ok(await api.patch('/v1/me/privacy', { presence: presence[i % 3], whoCanAddToGroups: 'everyone' }, x.token));
      const connect = async (a: User, b: User) => {
        ok(await api.post(`/v1/connections/${b.id}`, {}, a.token));
        ok(await api.post(`/v1/connections/${a.id}/accept`, {}, b.token));
      };
      await connect(u[0]!, u[1]!);
      await connect(u[0]!, u[2]!);
      await connect(u[1]!, u[3]!);
      await connect(u[2]!, u[4]!);
      await connect(u[5]!, u[6]!);
      await connect(u[3]!, u[8]!);
      // A pending connection request is no connection.
      ok(await api.post(`/v1/connections/${u[7]!.id}`, {}, u[4]!.token));
      // Groups: a big one and a small one that overlap.
      ok(await api.post('/v1/conversations', { type: 'group', title: 'Big', memberIds: [1, 2, 3, 4, 5, 7].map((i) => u[i]!.id) }, u[0]!.token));
      ok(await api.post('/v1/conversations', { type: 'group', title: 'Small', memberIds: [6, 7, 3, 8].map((i) => u[i]!.id) }, u[5]!.token));
      // Message requests: 6 → 0 pending, 7 → 1 declined, 8 → 4 pending, 2 → 5 accepted.
      const direct = async (from: User, to: User) => {
        const r = await api.post('/v1/conversations', { type: 'direct', userId: to.id }, from.token);
        ok(r);
        return r.body.id as string;
      };
      await direct(u[6]!, u[0]!);
      ok(await api.post(`/v1/conversations/${await direct(u[7]!, u[1]!)}/decline`, {}, u[1]!.token));
      await direct(u[8]!, u[4]!);
      ok(await api.post(`/v1/conversations/${await direct(u[2]!, u[5]!)}/accept`, {}, u[5]!.token));
      // Blocks, both ways, inside the groups and across connections.
      ok(await api.put(`/v1/blocks/${u[3]!.id}`, {}, u[0]!.token));
      ok(await api.put(`/v1/blocks/${u[0]!.id}`, {}, u[4]!.token));
      ok(await api.put(`/v1/blocks/${u[7]!.id}`, {}, u[6]!.token));
    }, 120_000);
    afterAll(async () => {
      await t?.close();
    });

    /** The peers the realtime module used to check one by one: co-members and connections. */
    const peersOf = async (id: string) => {
      const db = t.server.ctx.db;
      const connected = await db.selectFrom('connections').select('peer_id').where('user_id', '=', id).where('state', '=', 'connected').execute();
      return [...new Set([...(await peerIdsOf(db, id)), ...connected.map((r) => r.peer_id)])];
    };

    it('one viewer, every subject: the same answer as asking subject by subject', async () => {
      const db = t.server.ctx.db;
      const ids = users.map((x) => x.id);
      let seen = 0;
      for (const viewer of ids) {
        const expected = new Set<string>([viewer]);
        for (const subject of ids) if (subject !== viewer && (await presenceVisibleTo(db, subject, [viewer])).has(viewer)) expected.add(subject);
        seen += expected.size - 1;
        expect([...(await presenceVisibleToViewer(db, viewer, ids))].sort()).toEqual([...expected].sort());
      }
      // The graph is not degenerate: some see some, and not everyone sees everyone.
      expect(seen).toBeGreaterThan(3);
      expect(seen).toBeLessThan(ids.length * (ids.length - 1));
    });

    it('a snapshot’s candidates hold every peer the viewer may see, and no one the old peer list lacked', async () => {
      const db = t.server.ctx.db;
      for (const viewer of users.map((x) => x.id)) {
        const peers = await peersOf(viewer);
        const before = [...(await presenceVisibleToViewer(db, viewer, peers))].filter((id) => id !== viewer).sort();
        const candidates = await presenceCandidatesFor(db, viewer);
        expect(candidates.every((id) => peers.includes(id))).toBe(true);
        expect([...(await presenceVisibleToViewer(db, viewer, candidates))].filter((id) => id !== viewer).sort()).toEqual(before);
      }
    });

    it('the viewers of an announcement are those of the per-subject rule over all peers', async () => {
      const db = t.server.ctx.db;
      for (const subject of users.map((x) => x.id)) {
        const expected = [...(await presenceVisibleTo(db, subject, await peersOf(subject)))].filter((id) => id !== subject).sort();
        expect((await presenceViewersOf(db, subject)).sort()).toEqual(expected);
      }
    });
  });
}
