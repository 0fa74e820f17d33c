import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';

/**
 * Issue 4, what came last: group info and who may change it, ownership, invite links
 * (list, revoke, blocks), per-person state (mute until, archive, pin), forwarding files,
 * and files that go when nothing lists them (unsend, account deletion, replaced avatars).
 */
type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

let n = 0;
const cid = () => `cf-${Date.now().toString(36)}-${n++}`;
const text = (s: string, attachmentIds?: string[]) => ({
  clientId: cid(),
  kind: 'message',
  content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: s }) },
  ...(attachmentIds ? { attachmentIds } : {}),
});
const systemOf = (env: { content: { data: string } }) => JSON.parse(env.content.data);

for (const dialect of DIALECTS) {
  describe(`conversation features [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => t?.close());

    const signUp = (p: string) => t.api.signUp(p);
    const open = (u: U) => t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone', whoCanMessage: 'everyone' }, u.token);
    async function groupOf(owner: U, count: number, title = 'Team'): Promise<{ id: string; members: U[] }> {
      const members: U[] = [];
      for (let i = 0; i < count; i++) {
        const m = await signUp('fm');
        await open(m);
        members.push(m);
      }
      const res = await t.api.post('/v1/conversations', { type: 'group', title, memberIds: members.map((m) => m.id) }, owner.token);
      expect(res.status).toBe(201);
      return { id: res.body.id, members };
    }
    /** A direct conversation between connections (so it is in both inboxes, not a request). */
    async function direct(a: U, b: U): Promise<string> {
      expect((await t.api.post(`/v1/connections/${b.id}`, {}, a.token)).status).toBeLessThan(300);
      expect((await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token)).status).toBeLessThan(300);
      const res = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
      expect(res.status).toBe(201);
      return res.body.id;
    }
    async function send(u: U, conversationId: string, body: Record<string, unknown>): Promise<string> {
      const res = await t.api.post(`/v1/conversations/${conversationId}/messages`, body, u.token);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.id;
    }
    async function upload(u: U, body: string, contentType = 'image/png'): Promise<string> {
      const res = await fetch(`${t.url}/v1/attachments`, { method: 'POST', headers: { authorization: `Bearer ${u.token}`, 'content-type': contentType }, body });
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    }
    const download = async (u: U, id: string) => (await fetch(`${t.url}/v1/attachments/${id}`, { headers: { authorization: `Bearer ${u.token}` } })).status;
    const blobExists = (id: string) => {
      const root = path.join(t.config.dataDir, 'blobs');
      return existsSync(root) && readdirSync(root, { recursive: true }).some((f) => String(f).endsWith(id));
    };
    const attachmentRow = (id: string) => t.server.ctx.db.selectFrom('attachments').select('id').where('id', '=', id).executeTakeFirst();
    const systemEvents = async (u: U, conversationId: string) =>
      ((await t.api.get(`/v1/conversations/${conversationId}/messages?limit=200`, u.token)).body.messages as any[]).filter((e) => e.kind === 'system').map(systemOf);
    const settings = (u: U, conversationId: string, body: unknown) => t.api.put(`/v1/conversations/${conversationId}/settings`, body, u.token);
    const inbox = async (u: U, folder = 'inbox') => ((await t.api.get(`/v1/conversations?folder=${folder}&limit=200`, u.token)).body.conversations as any[]).map((c) => c.id);

    describe('group info', () => {
      it('description and avatar: set by admins, announced, avatar downloadable by every member and nobody else; a replaced avatar is deleted', async () => {
        const owner = await signUp('gi');
        const { id, members } = await groupOf(owner, 1);
        const [member] = members as [U];
        const stranger = await signUp('gs');
        const created = (await t.api.get(`/v1/conversations/${id}`, owner.token)).body;
        expect(created).toMatchObject({ description: '', avatarAttachmentId: null, infoEditableBy: 'admins' });

        const pic = await upload(owner, 'first picture');
        const res = await t.api.patch(`/v1/conversations/${id}`, { description: 'Sunday climbs', avatarAttachmentId: pic }, owner.token);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ description: 'Sunday climbs', avatarAttachmentId: pic });
        expect((await t.api.get(`/v1/conversations/${id}`, member.token)).body).toMatchObject({ description: 'Sunday climbs', avatarAttachmentId: pic });
        expect(await systemEvents(member, id)).toEqual([
          { type: 'system', event: 'description_changed', actorId: owner.id, data: { description: 'Sunday climbs' } },
          { type: 'system', event: 'avatar_changed', actorId: owner.id, data: { attachmentId: pic } },
        ]);
        // Every member may download the avatar; someone outside may not.
        expect(await download(member, pic)).toBe(200);
        expect(await download(stranger, pic)).toBe(404);

        // Only an attachment the changer uploaded may become the avatar.
        const theirs = await upload(member, 'not yours');
        const refused = await t.api.patch(`/v1/conversations/${id}`, { avatarAttachmentId: theirs }, owner.token);
        expect(refused.status).toBe(400);
        expect(refused.body.error).toMatchObject({ code: 'invalid_request', data: { field: 'body.avatarAttachmentId' } });

        // Replacing the avatar deletes the old one (nothing else uses it): row and bytes.
        const second = await upload(owner, 'second picture');
        expect((await t.api.patch(`/v1/conversations/${id}`, { avatarAttachmentId: second }, owner.token)).status).toBe(200);
        expect(await attachmentRow(pic)).toBeUndefined();
        expect(blobExists(pic)).toBe(false);
        expect(await download(member, second)).toBe(200);
        // Removing it: null, and the picture goes too.
        expect((await t.api.patch(`/v1/conversations/${id}`, { avatarAttachmentId: null, description: '' }, owner.token)).body).toMatchObject({ avatarAttachmentId: null, description: '' });
        expect(await attachmentRow(second)).toBeUndefined();
        // A member who left loses the group, and so the avatar.
        const third = await upload(owner, 'third picture');
        await t.api.patch(`/v1/conversations/${id}`, { avatarAttachmentId: third }, owner.token);
        expect(await download(member, third)).toBe(200);
        expect((await t.api.delete(`/v1/conversations/${id}/members/${member.id}`, member.token)).status).toBe(204);
        expect(await download(member, third)).toBe(404);
      });

      it('two avatar changes at once leave exactly one picture: the one shown', async () => {
        const owner = await signUp('ga');
        const { id } = await groupOf(owner, 0);
        const old = await upload(owner, 'old');
        await t.api.patch(`/v1/conversations/${id}`, { avatarAttachmentId: old }, owner.token);
        const [x, y] = [await upload(owner, 'x'), await upload(owner, 'y')];
        const answers = await Promise.all([x, y].map((a) => t.api.patch(`/v1/conversations/${id}`, { avatarAttachmentId: a }, owner.token)));
        expect(answers.map((r) => r.status)).toEqual([200, 200]);
        const shown = (await t.api.get(`/v1/conversations/${id}`, owner.token)).body.avatarAttachmentId;
        expect([x, y]).toContain(shown);
        const left = await t.server.ctx.db.selectFrom('attachments').select('id').where('id', 'in', [old, x, y]).execute();
        expect(left.map((r) => r.id)).toEqual([shown]);
      });

      it('a direct conversation has no title, description or avatar; too long a description is a 400', async () => {
        const a = await signUp('dd');
        const b = await signUp('dd');
        const dm = await direct(a, b);
        for (const body of [{ description: 'x' }, { avatarAttachmentId: null }, { infoEditableBy: 'members' }]) {
          const res = await t.api.patch(`/v1/conversations/${dm}`, body, a.token);
          expect(res.status).toBe(400);
          expect(res.body.error.code).toBe('invalid_request');
        }
        const owner = await signUp('dl');
        const { id } = await groupOf(owner, 0);
        expect((await t.api.patch(`/v1/conversations/${id}`, { description: 'x'.repeat(1025) }, owner.token)).status).toBe(400);
        expect((await t.api.patch(`/v1/conversations/${id}`, { infoEditableBy: 'everyone' }, owner.token)).status).toBe(400);
      });

      it('infoEditableBy: admins by default; admins open it to members; only admins change the setting and the timer', async () => {
        const owner = await signUp('ip');
        const { id, members } = await groupOf(owner, 2);
        const [admin, member] = members as [U, U];
        await t.api.patch(`/v1/conversations/${id}/members/${admin.id}`, { role: 'admin' }, owner.token);

        const denied = await t.api.patch(`/v1/conversations/${id}`, { title: 'Mine now' }, member.token);
        expect(denied.status).toBe(403);
        expect(denied.body.error.code).toBe('forbidden');
        expect((await t.api.patch(`/v1/conversations/${id}`, { description: 'by member' }, member.token)).status).toBe(403);
        expect((await t.api.patch(`/v1/conversations/${id}`, { infoEditableBy: 'members' }, member.token)).status).toBe(403);
        // An admin (not only the owner) opens it up.
        const opened = await t.api.patch(`/v1/conversations/${id}`, { infoEditableBy: 'members' }, admin.token);
        expect(opened.status).toBe(200);
        expect(opened.body.infoEditableBy).toBe('members');

        expect((await t.api.patch(`/v1/conversations/${id}`, { title: 'Renamed by a member', description: 'hi' }, member.token)).status).toBe(200);
        const memberPic = await upload(member, 'member picture');
        expect((await t.api.patch(`/v1/conversations/${id}`, { avatarAttachmentId: memberPic }, member.token)).body.avatarAttachmentId).toBe(memberPic);
        // The setting itself and the disappearing timer stay with admins.
        expect((await t.api.patch(`/v1/conversations/${id}`, { infoEditableBy: 'admins' }, member.token)).status).toBe(403);
        expect((await t.api.patch(`/v1/conversations/${id}`, { disappearingSeconds: 300 }, member.token)).status).toBe(403);

        expect((await t.api.patch(`/v1/conversations/${id}`, { infoEditableBy: 'admins' }, owner.token)).status).toBe(200);
        expect((await t.api.patch(`/v1/conversations/${id}`, { title: 'Again' }, member.token)).status).toBe(403);

        const events = (await systemEvents(owner, id)).filter((e) => e.event !== 'role_changed');
        expect(events.map((e) => [e.event, e.actorId])).toEqual([
          ['info_policy_changed', admin.id],
          ['title_changed', member.id],
          ['description_changed', member.id],
          ['avatar_changed', member.id],
          ['info_policy_changed', owner.id],
        ]);
        expect(events[0].data).toEqual({ infoEditableBy: 'members' });
      });
    });

    describe('ownership', () => {
      it('only the owner hands the group over; the previous owner becomes an admin; one owner_changed envelope', async () => {
        const owner = await signUp('ow');
        const { id, members } = await groupOf(owner, 2);
        const [heir, admin] = members as [U, U];
        await t.api.patch(`/v1/conversations/${id}/members/${admin.id}`, { role: 'admin' }, owner.token);
        const byAdmin = await t.api.patch(`/v1/conversations/${id}/members/${heir.id}`, { role: 'owner' }, admin.token);
        expect(byAdmin.status).toBe(403);
        expect((await t.api.patch(`/v1/conversations/${id}/members/${heir.id}`, { role: 'owner' }, heir.token)).status).toBe(403);

        const res = await t.api.patch(`/v1/conversations/${id}/members/${heir.id}`, { role: 'owner' }, owner.token);
        expect(res.status).toBe(200);
        const roles = Object.fromEntries(res.body.members.map((m: any) => [m.userId, m.role]));
        expect(roles).toEqual({ [owner.id]: 'admin', [heir.id]: 'owner', [admin.id]: 'admin' });
        const changes = (await systemEvents(heir, id)).filter((e) => e.event === 'owner_changed');
        expect(changes).toEqual([{ type: 'system', event: 'owner_changed', actorId: owner.id, data: { userId: heir.id, previousOwnerId: owner.id } }]);
        // The former owner no longer transfers; the new one does.
        expect((await t.api.patch(`/v1/conversations/${id}/members/${admin.id}`, { role: 'owner' }, owner.token)).status).toBe(403);
        expect((await t.api.patch(`/v1/conversations/${id}/members/${owner.id}`, { role: 'owner' }, heir.token)).status).toBe(200);
      });
    });

    describe('invite links', () => {
      it('admins list and revoke links (by id or token); a revoked link answers 404', async () => {
        const owner = await signUp('il');
        const { id, members } = await groupOf(owner, 1);
        const [member] = members as [U];
        const first = (await t.api.post(`/v1/conversations/${id}/invites`, {}, owner.token)).body;
        const second = (await t.api.post(`/v1/conversations/${id}/invites`, {}, owner.token)).body;
        expect(first).toMatchObject({ token: expect.any(String), id: expect.any(String) });

        expect((await t.api.get(`/v1/conversations/${id}/invites`, member.token)).status).toBe(403);
        const list = await t.api.get(`/v1/conversations/${id}/invites`, owner.token);
        expect(list.status).toBe(200);
        expect(list.body.invites.map((i: any) => i.id)).toEqual([second.id, first.id]);
        expect(list.body.invites[0]).toEqual({ id: second.id, conversationId: id, createdBy: owner.id, createdAt: expect.any(String) });
        expect(JSON.stringify(list.body)).not.toContain(first.token);

        expect((await t.api.delete(`/v1/conversations/${id}/invites/${first.id}`, member.token)).status).toBe(403);
        expect((await t.api.delete(`/v1/conversations/${id}/invites/${first.id}`, owner.token)).status).toBe(204);
        expect((await t.api.delete(`/v1/conversations/${id}/invites/${first.id}`, owner.token)).status).toBe(404);
        // By the token itself, too.
        expect((await t.api.delete(`/v1/conversations/${id}/invites/${second.token}`, owner.token)).status).toBe(204);
        expect((await t.api.get(`/v1/conversations/${id}/invites`, owner.token)).body.invites).toEqual([]);

        const joiner = await signUp('ij');
        for (const link of [first, second]) {
          const res = await t.api.post(`/v1/invites/${link.token}`, {}, joiner.token);
          expect(res.status).toBe(404);
          expect(res.body.error.code).toBe('not_found');
        }
        // A link of another group cannot be revoked through this one.
        const other = await groupOf(owner, 0, 'Other');
        const foreign = (await t.api.post(`/v1/conversations/${other.id}/invites`, {}, owner.token)).body;
        expect((await t.api.delete(`/v1/conversations/${id}/invites/${foreign.id}`, owner.token)).status).toBe(404);
        expect((await t.api.post(`/v1/invites/${foreign.token}`, {}, joiner.token)).status).toBe(200);
      });

      it('joining by link ignores the joiner’s whoCanAddToGroups but not a block by any admin', async () => {
        const owner = await signUp('jb');
        const { id, members } = await groupOf(owner, 1);
        const [admin] = members as [U];
        await t.api.patch(`/v1/conversations/${id}/members/${admin.id}`, { role: 'admin' }, owner.token);
        const { token } = (await t.api.post(`/v1/conversations/${id}/invites`, {}, owner.token)).body;

        // The joiner chose to join: their own "nobody may add me" does not stop them.
        const private_ = await signUp('jp');
        await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'nobody' }, private_.token);
        expect((await t.api.post(`/v1/invites/${token}`, {}, private_.token)).status).toBe(200);

        // Someone an admin (not the link's creator) blocked is refused, with the answer a block always gets.
        const blocked = await signUp('jx');
        await t.api.put(`/v1/blocks/${blocked.id}`, {}, admin.token);
        const refused = await t.api.post(`/v1/invites/${token}`, {}, blocked.token);
        expect(refused.status).toBe(403);
        expect(refused.body.error.code).toBe('messaging_not_allowed');
        expect(JSON.stringify(refused.body)).not.toContain(admin.id);
        // Once unblocked, the link works.
        await t.api.delete(`/v1/blocks/${blocked.id}`, admin.token);
        expect((await t.api.post(`/v1/invites/${token}`, {}, blocked.token)).status).toBe(200);
      });
    });

    describe('my state per conversation', () => {
      it('{muted} works as before; mutedUntil mutes until a time and the mute ends by itself; a past time is a 400', async () => {
        const a = await signUp('mu');
        const b = await signUp('mu');
        const dm = await direct(a, b);
        expect((await settings(a, dm, { muted: true })).body).toMatchObject({ muted: true, mutedUntil: null });
        expect((await settings(a, dm, { muted: false })).body).toMatchObject({ muted: false, mutedUntil: null });
        const until = new Date(Date.now() + 3600_000).toISOString();
        expect((await settings(a, dm, { mutedUntil: until })).body).toMatchObject({ muted: true, mutedUntil: until });
        expect((await t.api.get(`/v1/conversations/${dm}`, b.token)).body.muted).toBe(false);

        for (const body of [{ mutedUntil: new Date(Date.now() - 1000).toISOString() }, { mutedUntil: 'tomorrow' }, { muted: false, mutedUntil: until }, {}, { archived: true, pinned: true }, { bogus: 1 }]) {
          const res = await settings(a, dm, body);
          expect(res.status, JSON.stringify(body)).toBe(400);
          expect(res.body.error.code).toBe('invalid_request');
        }
        expect((await settings(a, dm, { mutedUntil: new Date(Date.now() - 1000).toISOString() })).body.error.data.field).toBe('body.mutedUntil');

        // Time passes (the end time is moved into the past): the mute is over without a write.
        await t.server.ctx.db.updateTable('members').set({ muted_until: new Date(Date.now() - 1000).toISOString() }).where('conversation_id', '=', dm).where('user_id', '=', a.id).execute();
        expect((await t.api.get(`/v1/conversations/${dm}`, a.token)).body).toMatchObject({ muted: false, mutedUntil: null });
      });

      it('archive: out of the inbox into folder=archived; a new message brings it back unless muted; in sync', async () => {
        const me = await signUp('ar');
        const loud = await signUp('ar');
        const quiet = await signUp('ar');
        const loudDm = await direct(loud, me);
        const quietDm = await direct(quiet, me);
        const { cursor } = (await t.api.get('/v1/sync', me.token)).body;

        expect((await settings(me, loudDm, { archived: true })).body).toMatchObject({ archived: true });
        await settings(me, quietDm, { archived: true, muted: true });
        expect(await inbox(me)).not.toContain(loudDm);
        expect((await inbox(me, 'archived')).sort()).toEqual([loudDm, quietDm].sort());
        const synced = (await t.api.get(`/v1/sync?cursor=${cursor}`, me.token)).body.conversations;
        expect(synced.find((c: any) => c.id === loudDm)).toMatchObject({ archived: true });
        expect(synced.find((c: any) => c.id === quietDm)).toMatchObject({ archived: true, muted: true });
        // The other side sees nothing of it.
        expect((await t.api.get(`/v1/conversations/${loudDm}`, loud.token)).body.archived).toBe(false);

        // My own message keeps it archived; theirs brings it back, unless I muted it.
        await send(me, loudDm, text('from me'));
        expect(await inbox(me, 'archived')).toContain(loudDm);
        await send(loud, loudDm, text('hello again'));
        await send(quiet, quietDm, text('psst'));
        expect(await inbox(me)).toContain(loudDm);
        expect(await inbox(me)).not.toContain(quietDm);
        expect(await inbox(me, 'archived')).toEqual([quietDm]);
        expect((await t.api.get(`/v1/conversations/${loudDm}`, me.token)).body.archived).toBe(false);
        // A mute that has ended no longer keeps it archived.
        await settings(me, quietDm, { mutedUntil: new Date(Date.now() + 60_000).toISOString() });
        await t.server.ctx.db.updateTable('members').set({ muted_until: new Date(Date.now() - 1000).toISOString() }).where('conversation_id', '=', quietDm).where('user_id', '=', me.id).execute();
        await send(quiet, quietDm, text('now?'));
        expect(await inbox(me, 'archived')).toEqual([]);
      });

      it('pin: pinned first in the inbox, at most 5 (409 limit_reached); archiving unpins; paging keeps the order', async () => {
        const me = await signUp('pi');
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) ids.push(await direct(me, await signUp('pp')));
        // Oldest first in ids: the inbox shows newest first.
        expect(await inbox(me)).toEqual([...ids].reverse());
        for (const id of ids.slice(0, 5)) expect((await settings(me, id, { pinned: true })).body.pinned).toBe(true);
        const over = await settings(me, ids[5]!, { pinned: true });
        expect(over.status).toBe(409);
        expect(over.body.error).toMatchObject({ code: 'limit_reached', data: { limit: 5 } });
        // Pinning a pinned one again is not a sixth.
        expect((await settings(me, ids[0]!, { pinned: true })).status).toBe(200);

        const expected = [...ids.slice(0, 5).reverse(), ids[6], ids[5]];
        expect(await inbox(me)).toEqual(expected);
        // Page by page (the cursor crosses from the pinned to the others).
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page: any = await t.api.get(`/v1/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, me.token);
          expect(page.status).toBe(200);
          seen.push(...page.body.conversations.map((c: any) => c.id));
          cursor = page.body.nextCursor;
        } while (cursor);
        expect(seen).toEqual(expected);

        // Archiving a pinned conversation unpins it, which frees a place.
        expect((await settings(me, ids[0]!, { archived: true })).body).toMatchObject({ archived: true, pinned: false });
        expect((await settings(me, ids[5]!, { pinned: true })).status).toBe(200);
        // Pinning an archived one brings it back.
        await settings(me, ids[1]!, { pinned: false });
        expect((await settings(me, ids[0]!, { pinned: true })).body).toMatchObject({ archived: false, pinned: true });
        const listed = (await t.api.get('/v1/conversations?limit=3', me.token)).body.conversations;
        expect(listed.every((c: any) => c.pinned)).toBe(true);
      });
    });

    describe('forwarding and files', () => {
      it('a forwarder lists a file they may read; a non-member may not; members of the new conversation then may download it', async () => {
        const alice = await signUp('fa');
        const { id: source, members } = await groupOf(alice, 1, 'Source');
        const [bob] = members as [U];
        const carol = await signUp('fc');
        const target = await direct(bob, carol);
        const photo = await upload(alice, 'a photo');
        await send(alice, source, text('look', [photo]));
        expect(await download(carol, photo)).toBe(404);

        // Carol is no member of the source: she may not list it.
        const dave = await signUp('fd');
        const daveDm = await direct(carol, dave);
        const refused = await t.api.post(`/v1/conversations/${daveDm}/messages`, text('stolen', [photo]), carol.token);
        expect(refused.status).toBe(400);
        expect(refused.body.error).toMatchObject({ code: 'invalid_request', data: { field: 'attachmentIds' } });

        // Bob may: he reads it in the source.
        await send(bob, target, { ...text('fwd', [photo]), content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: 'look', forwarded: true }) } });
        expect(await download(carol, photo)).toBe(200);

        // Unsent in the source, the file stays: the forward still lists it. Unsent there too, it goes.
        const original = ((await t.api.get(`/v1/conversations/${source}/messages?limit=50`, alice.token)).body.messages as any[]).find((e) => e.attachmentIds.includes(photo));
        expect((await t.api.delete(`/v1/conversations/${source}/messages/${original.id}`, alice.token)).status).toBe(204);
        expect(await attachmentRow(photo)).toBeDefined();
        expect(await download(carol, photo)).toBe(200);
        expect(await download(bob, photo)).toBe(200);
        const forwarded = ((await t.api.get(`/v1/conversations/${target}/messages?limit=50`, bob.token)).body.messages as any[]).find((e) => e.attachmentIds.includes(photo));
        expect((await t.api.delete(`/v1/conversations/${target}/messages/${forwarded.id}`, bob.token)).status).toBe(204);
        expect(await attachmentRow(photo)).toBeUndefined();
        expect(blobExists(photo)).toBe(false);
        expect(await download(alice, photo)).toBe(404);
      });

      it('a member who left may no longer download nor forward the group’s files', async () => {
        const owner = await signUp('lf');
        const { id, members } = await groupOf(owner, 1);
        const [leaver] = members as [U];
        const doc = await upload(owner, 'minutes', 'text/plain');
        await send(owner, id, text('minutes', [doc]));
        expect(await download(leaver, doc)).toBe(200);
        await t.api.delete(`/v1/conversations/${id}/members/${leaver.id}`, leaver.token);
        expect(await download(leaver, doc)).toBe(404);
        const elsewhere = await direct(leaver, await signUp('lf'));
        expect((await t.api.post(`/v1/conversations/${elsewhere}/messages`, text('fwd', [doc]), leaver.token)).status).toBe(400);
      });

      it('deleting an account deletes the uploads no message lists, and keeps those that others received', async () => {
        const u = await signUp('da');
        const peer = await signUp('da');
        const dm = await direct(u, peer);
        const sent = await upload(u, 'sent one');
        const draft = await upload(u, 'never sent');
        const unsent = await upload(u, 'sent then unsent');
        await send(u, dm, text('file', [sent]));
        const gone = await send(u, dm, text('oops', [unsent]));
        await t.api.delete(`/v1/conversations/${dm}/messages/${gone}`, u.token);
        expect(await attachmentRow(unsent)).toBeUndefined();

        expect((await t.api.delete('/v1/me', u.token, { password: 'correct horse battery' })).status).toBe(204);
        expect(await attachmentRow(draft)).toBeUndefined();
        expect(blobExists(draft)).toBe(false);
        expect(await attachmentRow(sent)).toBeDefined();
        expect(blobExists(sent)).toBe(true);
        expect(await download(peer, sent)).toBe(200);
      });
    });

    it('documents the new routes in the OpenAPI', async () => {
      const doc = (await t.api.get('/v1/openapi.json')).body;
      expect(doc.paths['/v1/conversations/{id}/invites'].get.summary).toBeTruthy();
      expect(doc.paths['/v1/conversations/{id}/invites/{invite}'].delete.summary).toBeTruthy();
      const settingsBody = JSON.stringify(doc.paths['/v1/conversations/{id}/settings'].put.requestBody);
      for (const field of ['muted', 'mutedUntil', 'archived', 'pinned']) expect(settingsBody).toContain(field);
      const patchBody = JSON.stringify(doc.paths['/v1/conversations/{id}'].patch.requestBody);
      for (const field of ['description', 'avatarAttachmentId', 'infoEditableBy']) expect(patchBody).toContain(field);
    });
  });
}
