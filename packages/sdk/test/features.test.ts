import { describe, expect, it } from 'vitest';
import { DIALECTS } from '@parley/server/testing';
import { ApiError, isMutedNow, type ParleyClient } from '../src/index.ts';
import { eventually, signedUpClient, suiteServer } from './support.ts';

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected the call to fail');
}

const bytes = (s: string) => new TextEncoder().encode(s);
const textOf = (b: Uint8Array) => new TextDecoder().decode(b);

/** Issue 4 through the SDK: group info, my settings, invites, files, voice notes, forwarding, edit history, mentions. */
for (const dialect of DIALECTS) {
  describe(`SDK conversation features [${dialect}]`, () => {
    const suite = suiteServer(dialect, { retentionSweepIntervalMs: 3_600_000 });
    const { clients } = suite;

    async function user(prefix: string) {
      const u = await signedUpClient(suite.t, prefix);
      clients.push(u.client);
      return u;
    }
    async function connected(a: { client: ParleyClient; id: string }, b: { client: ParleyClient; id: string }) {
      await a.client.connections.request(b.id);
      await b.client.connections.accept(a.id);
    }

    it('group info, who may change it, ownership and invite links', async () => {
      const owner = await user('fo');
      const member = await user('fm');
      const outsider = await user('fx');
      await connected(owner, member);
      const group = await owner.client.conversations.create({ type: 'group', title: 'Climbing', memberIds: [member.id] });
      await member.client.connect();

      const picture = await owner.client.attachments.upload(bytes('png bytes'), { contentType: 'image/png' });
      const updated = await owner.client.conversations.update(group.id, { description: 'Sundays', avatarAttachmentId: picture.id });
      expect(updated).toMatchObject({ description: 'Sundays', avatarAttachmentId: picture.id, infoEditableBy: 'admins' });
      // The member's store hears of it, and the member may download the avatar.
      await eventually(() => member.client.store.getConversation(group.id)?.avatarAttachmentId === picture.id, 'the avatar in the member’s store');
      expect(textOf((await member.client.attachments.download(picture.id)).bytes)).toBe('png bytes');
      expect((await failure(outsider.client.attachments.download(picture.id))).code).toBe('not_found');
      await eventually(
        () => member.client.store.getMessages(group.id).some((m) => m.kind === 'system' && m.content?.type === 'system' && m.content.event === 'avatar_changed'),
        'the avatar_changed system item',
      );

      expect((await failure(member.client.conversations.update(group.id, { title: 'Mine' }))).code).toBe('forbidden');
      await owner.client.conversations.update(group.id, { infoEditableBy: 'members' });
      expect((await member.client.conversations.update(group.id, { title: 'Ours' })).title).toBe('Ours');

      // Invite links: list and revoke; a revoked link is not found.
      const link = await owner.client.invites.create(group.id);
      expect((await owner.client.invites.list(group.id)).map((i) => i.id)).toEqual([link.id]);
      expect((await failure(member.client.invites.list(group.id))).code).toBe('forbidden');
      await owner.client.invites.revoke(group.id, link.id);
      expect(await owner.client.invites.list(group.id)).toEqual([]);
      expect((await failure(outsider.client.invites.join(link.token))).code).toBe('not_found');
      const fresh = await owner.client.invites.create(group.id);
      expect((await outsider.client.invites.join(fresh.token)).id).toBe(group.id);

      // Only the owner hands the group over.
      expect((await failure(member.client.members.transferOwnership(group.id, outsider.id))).code).toBe('forbidden');
      const handed = await owner.client.members.transferOwnership(group.id, member.id);
      expect(Object.fromEntries(handed.members.map((m) => [m.userId, m.role]))).toMatchObject({ [owner.id]: 'admin', [member.id]: 'owner' });
    });

    it('my settings: mute until, archive, pin (cap), reflected in the store’s folders', async () => {
      const me = await user('sm');
      await me.client.connect();
      const peers = [];
      for (let i = 0; i < 6; i++) {
        const p = await user('sp');
        await connected(me, p);
        peers.push(p);
      }
      const dms = [];
      for (const p of peers) dms.push(await me.client.openDirect(p.id));
      const [first, second, ...rest] = dms as [(typeof dms)[0], (typeof dms)[0], ...typeof dms];

      const until = new Date(Date.now() + 3600_000);
      const muted = await me.client.conversations.mute(first.id, until);
      expect(muted).toMatchObject({ muted: true, mutedUntil: until.toISOString() });
      expect(isMutedNow(muted)).toBe(true);
      expect(isMutedNow(muted, until.getTime() + 1)).toBe(false);
      expect((await me.client.conversations.unmute(first.id)).muted).toBe(false);

      await me.client.conversations.archive(second.id);
      for (const c of [...rest, first]) await me.client.conversations.pin(c.id);
      // A sixth is refused, and the archived one stays archived.
      const over = await failure(me.client.conversations.pin(second.id));
      expect(over).toMatchObject({ code: 'limit_reached', status: 409 });
      expect(over.data?.limit).toBe(5);
      // The server's `conversation` events keep the store's folders current.
      await eventually(() => me.client.store.getSnapshot().archived.map((c) => c.id).join() === second.id, 'the archive folder');
      await eventually(() => me.client.store.getSnapshot().inbox.slice(0, 5).every((c) => c.pinned), 'pinned first');
      expect(me.client.store.getSnapshot().inbox).toHaveLength(5);
      expect(me.client.store.getSnapshot().inbox.map((c) => c.id)).not.toContain(second.id);
      expect((await me.client.conversations.list({ folder: 'archived' })).conversations.map((c) => c.id)).toEqual([second.id]);

      // A message from the other side brings the archived conversation back (it is not muted).
      await peers[1]!.client.connect();
      await peers[1]!.client.waitForAck((await peers[1]!.client.sendText(second.id, 'are you there?')).clientId);
      await eventually(() => me.client.store.getSnapshot().inbox.some((c) => c.id === second.id), 'unarchived by a new message');
    });

    it('files with a thumbnail, voice notes, and forwarding to at most five conversations', async () => {
      const ada = await user('fa');
      const bob = await user('fb');
      const cat = await user('fc');
      await connected(ada, bob);
      await connected(bob, cat);
      await Promise.all([ada.client.connect(), bob.client.connect(), cat.client.connect()]);
      const adaBob = await ada.client.openDirect(bob.id);
      const bobCat = await bob.client.openDirect(cat.id);

      const entry = await ada.client.sendFile(adaBob.id, bytes('full size photo'), {
        contentType: 'image/jpeg',
        filename: 'view.jpg',
        caption: 'the view',
        width: 4000,
        height: 3000,
        thumbnail: { data: bytes('tiny'), width: 40, height: 30 },
      });
      await ada.client.waitForAck(entry.clientId);
      const photo = await eventually(() => bob.client.store.getMessages(adaBob.id).find((m) => m.text === 'the view'), 'the photo at bob');
      expect(photo.attachmentIds).toHaveLength(2);
      const [info] = photo.attachments;
      expect(info).toMatchObject({ kind: 'image', contentType: 'image/jpeg', size: 15, name: 'view.jpg', width: 4000, height: 3000, thumbnail: { contentType: 'image/jpeg', width: 40, height: 30 } });
      expect(textOf((await bob.client.attachments.download(info!.id)).bytes)).toBe('full size photo');
      expect(textOf((await bob.client.attachments.download(info!.thumbnail!.id)).bytes)).toBe('tiny');

      // A thumbnail may be plain bytes too.
      const doc = await ada.client.sendFile(adaBob.id, bytes('%PDF'), { contentType: 'application/pdf', filename: 'plan.pdf', thumbnail: bytes('page one') });
      await ada.client.waitForAck(doc.clientId);
      const pdf = await eventually(() => bob.client.store.getMessages(adaBob.id).find((m) => m.attachments[0]?.name === 'plan.pdf'), 'the pdf at bob');
      expect(pdf.attachments[0]).toMatchObject({ kind: 'file', contentType: 'application/pdf', thumbnail: { contentType: 'image/jpeg' } });
      expect(textOf((await bob.client.attachments.download(pdf.attachments[0]!.thumbnail!.id)).bytes)).toBe('page one');

      const voice = await ada.client.sendVoice(adaBob.id, bytes('ogg opus'), { durationMs: 5400, contentType: 'audio/ogg' });
      await ada.client.waitForAck(voice.clientId);
      const note = await eventually(() => bob.client.store.getMessages(adaBob.id).find((m) => m.attachments[0]?.kind === 'voice'), 'the voice note at bob');
      expect(note.attachments[0]).toMatchObject({ kind: 'voice', contentType: 'audio/ogg', durationMs: 5400 });
      expect((await failure(ada.client.sendVoice(adaBob.id, bytes('x'), { durationMs: 1, contentType: 'image/png' }))).code).toBe('invalid_request');

      // More than five conversations: refused before anything is sent.
      const before = bob.client.outbox.list().length;
      const tooMany = await failure(bob.client.forward(photo, ['a', 'b', 'c', 'd', 'e', 'f']));
      expect(tooMany).toMatchObject({ code: 'limit_reached' });
      expect(bob.client.outbox.list()).toHaveLength(before);

      // Bob forwards Ada's photo to Cat, who never was in Ada's conversation: she gets it, marked forwarded, and may download it.
      const [fwd] = await bob.client.forward(photo.id!, [bobCat.id]);
      await bob.client.waitForAck(fwd!.clientId);
      const got = await eventually(() => cat.client.store.getMessages(bobCat.id).find((m) => m.forwarded), 'the forward at cat');
      expect(got).toMatchObject({ text: 'the view', forwarded: true, senderId: bob.id });
      expect(got.attachments[0]).toMatchObject({ id: info!.id, kind: 'image' });
      expect(textOf((await cat.client.attachments.download(info!.id)).bytes)).toBe('full size photo');
      expect(textOf((await cat.client.attachments.download(info!.thumbnail!.id)).bytes)).toBe('tiny');
    });

    it('edit history with times, and unread mentions', async () => {
      const ada = await user('ea');
      const bob = await user('eb');
      await connected(ada, bob);
      await Promise.all([ada.client.connect(), bob.client.connect()]);
      const dm = await ada.client.openDirect(bob.id);
      const sent = await ada.client.sendText(dm.id, 'helo');
      const ack = await ada.client.waitForAck(sent.clientId);
      await ada.client.waitForAck((await ada.client.edit(dm.id, ack.id, 'hello')).clientId);
      await ada.client.waitForAck((await ada.client.edit(dm.id, ack.id, 'hello bob')).clientId);
      const versions = await eventually(() => {
        const v = bob.client.store.editHistory(ack.id);
        return v.length === 3 ? v : null;
      }, 'three versions at bob');
      expect(versions.map((v) => v.text)).toEqual(['helo', 'hello', 'hello bob']);
      expect(versions[0]!.at).toBe(ack.createdAt);
      expect(versions[0]!.at <= versions[1]!.at && versions[1]!.at <= versions[2]!.at).toBe(true);

      await ada.client.sendText(dm.id, '@bob look', { mentions: [{ userId: bob.id, offset: 0, length: 4 }] });
      await ada.client.sendText(dm.id, 'no mention here');
      await eventually(() => bob.client.store.unreadMentions(dm.id) === 1, 'one unread mention');
      expect(bob.client.store.getMessages(dm.id).filter((m) => m.mentionsMe).map((m) => m.text)).toEqual(['@bob look']);
      await bob.client.markRead(dm.id);
      expect(bob.client.store.unreadMentions(dm.id)).toBe(0);
    });

    it('drops disappearing messages from the store when they expire, and never shows one already expired', async () => {
      const ada = await user('xa');
      const bob = await user('xb');
      await connected(ada, bob);
      await ada.client.connect();
      const dm = await ada.client.openDirect(bob.id);
      await ada.client.conversations.update(dm.id, { disappearingSeconds: 300 });
      const soon = await ada.client.waitForAck((await ada.client.sendText(dm.id, 'soon gone')).clientId);
      const past = await ada.client.waitForAck((await ada.client.sendText(dm.id, 'already gone')).clientId);
      await ada.client.waitForAck((await ada.client.sendText(dm.id, 'still here')).clientId);
      // Time passes on the server (the sweeper is idle in this suite): one expires in a moment, one has expired.
      const db = suite.t.server.ctx.db;
      await db.updateTable('messages').set({ expires_at: new Date(Date.now() + 1500).toISOString() }).where('id', '=', soon.id).execute();
      await db.updateTable('messages').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', past.id).execute();

      await bob.client.connect();
      const texts = () => bob.client.store.getMessages(dm.id).filter((m) => m.kind === 'message').map((m) => m.text);
      await eventually(() => texts().includes('still here'), 'bob’s first sync');
      expect(texts()).not.toContain('already gone');
      // The store drops the other on its own clock, with no new event from the server.
      await eventually(() => !texts().includes('soon gone'), 'the expiry timer');
      expect(texts()).toEqual(['still here']);
    });
  });
}
