import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axe, openPerson, signUpInBrowser, startHarness, type Harness, type Person } from './browser.ts';

type ApiUser = { id: string; token: string; username: string };

/**
 * A group run from the browser: its description, picture and who may change them, invite
 * links, handing it over; and the owner's own view of it: pinned, muted for a while,
 * archived, and a message forwarded out of it. Alice is in Chromium; the others use the API.
 */
describe('web app: group administration, inbox state, forwarding', () => {
  let h: Harness;
  let alice: Person;
  let aliceToken: string;
  let bob: ApiUser;
  let carol: ApiUser;
  let groupId: string;

  const timeline = () => alice.page.getByRole('log');
  const info = () => alice.page.getByRole('complementary', { name: 'Group info' });
  const conversation = async () => (await h.server.api.get(`/v1/conversations/${groupId}`, aliceToken)).body;
  const openInfo = async () => {
    if (!(await info().count())) await alice.page.getByRole('button', { name: 'Conversation info' }).click();
    await info().waitFor();
  };
  const chats = () => alice.page.getByRole('tabpanel');

  beforeAll(async () => {
    h = await startHarness();
    alice = await openPerson(h);
    await signUpInBrowser(alice, `alice_${Math.random().toString(36).slice(2, 7)}`, 'Alice Rivers');
    aliceToken = (JSON.parse((await alice.page.evaluate(() => localStorage.getItem('parley.session'))) ?? '{}') as { token: string }).token;
    bob = await h.server.api.signUp('bob', { displayName: 'Bob Stone' });
    carol = await h.server.api.signUp('carol', { displayName: 'Carol Diaz' });
    for (const u of [bob, carol]) await h.server.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, u.token);
    const created = await h.server.api.post('/v1/conversations', { type: 'group', title: 'Climbers', memberIds: [bob.id, carol.id] }, aliceToken);
    expect(created.status).toBe(201);
    groupId = created.body.id;
    await alice.page.getByRole('link', { name: /^Climbers/ }).click();
    await alice.page.getByRole('heading', { level: 2, name: 'Climbers' }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it('changes the description and the picture; lets members edit the info, and one does', async () => {
    await openInfo();
    await info().getByLabel('Description').fill('Sunday climbs at the gym');
    await info().getByRole('button', { name: 'Save' }).click();
    await timeline().getByText('You changed the group’s description').waitFor();
    expect((await conversation()).description).toBe('Sunday climbs at the gym');
    await info().getByText('Sunday climbs at the gym', { exact: true }).first().waitFor();

    // The picture is cut down by the browser before it goes up; every member can fetch it.
    const dataUrl = await alice.page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = c.height = 900;
      const ctx = c.getContext('2d')!;
      ctx.fillStyle = '#e63';
      ctx.fillRect(0, 0, 900, 900);
      return c.toDataURL('image/png');
    });
    await info().getByLabel('Group picture').setInputFiles({ name: 'crew.png', mimeType: 'image/png', buffer: Buffer.from(dataUrl.split(',')[1]!, 'base64') });
    await timeline().getByText('You changed the group’s picture').waitFor();
    const pictureId = (await conversation()).avatarAttachmentId;
    expect(pictureId).toBeTruthy();
    const asCarol = await fetch(`${h.server.url}/v1/attachments/${pictureId}`, { headers: { authorization: `Bearer ${carol.token}` } });
    expect(asCarol.status).toBe(200);
    expect(asCarol.headers.get('content-type')).toMatch(/^image\/jpeg/);
    const headPicture = alice.page.locator('.conv-head img.avatar');
    await headPicture.waitFor();
    expect(await headPicture.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(512);

    // Members may not rename the group until an admin lets them.
    const rename = (title: string) => h.server.api.patch(`/v1/conversations/${groupId}`, { title }, carol.token);
    expect((await rename('Carol’s crew')).status).toBe(403);
    await info().getByLabel('Who can change the group’s info').selectOption('members');
    await timeline().getByText('You let all members change the group’s info').waitFor();
    expect((await rename('Climbing crew')).status).toBe(200);
    await alice.page.getByRole('heading', { level: 2, name: 'Climbing crew' }).waitFor();
    await timeline().getByText('Carol Diaz renamed the group to “Climbing crew”').waitFor();
    expect(await axe(alice.page)).toEqual([]);
  });

  it('creates an invite link, lists it, and revokes it', async () => {
    await openInfo();
    await info().getByRole('button', { name: 'Create invite link' }).click();
    const link = await info().getByLabel('Invite link', { exact: true }).inputValue();
    const token = decodeURIComponent(link.split('/join/')[1]!);
    const links = info().getByRole('list', { name: 'Invite links' });
    await expect.poll(() => links.getByRole('listitem').count()).toBe(1);

    const dave = await h.server.api.signUp('dave', { displayName: 'Dave Ito' });
    await links.getByRole('button', { name: /^Revoke/ }).click();
    await expect.poll(() => links.count()).toBe(0);
    expect((await h.server.api.get(`/v1/conversations/${groupId}/invites`, aliceToken)).body.invites).toEqual([]);
    expect((await h.server.api.post(`/v1/invites/${token}`, undefined, dave.token)).status).toBe(404);
  });

  it('pins the group to the top, mutes it for an hour, archives it and brings it back', async () => {
    // Another conversation, more recent than the group.
    const dm = await h.server.api.post('/v1/conversations', { type: 'direct', userId: bob.id }, aliceToken);
    await h.server.api.post(`/v1/conversations/${dm.body.id}/messages`, { clientId: 'd1', kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: 'hello' }) } }, aliceToken);
    const first = async () => (await chats().getByRole('link').first().getAttribute('href')) === `/c/${groupId}` ? 'group' : 'other';
    await expect.poll(first).toBe('other');

    await openInfo();
    await info().getByLabel('Pin to the top of Chats').check();
    await expect.poll(first).toBe('group');
    expect((await conversation()).pinned).toBe(true);
    expect(await chats().getByRole('link', { name: /Climbing crew.*pinned/s }).count()).toBe(1);

    await info().getByLabel('Mute notifications').selectOption('3600');
    await expect.poll(async () => (await conversation()).mutedUntil).toBeTruthy();
    const until = Date.parse((await conversation()).mutedUntil);
    expect(until - Date.now()).toBeGreaterThan(55 * 60_000);
    expect(until - Date.now()).toBeLessThanOrEqual(60 * 60_000);
    await expect.poll(async () => info().getByLabel('Mute notifications').inputValue()).toBe('until');
    expect(await chats().getByRole('link', { name: /Climbing crew.*muted/s }).count()).toBe(1);

    await info().getByRole('button', { name: 'Archive' }).click();
    await expect.poll(() => chats().getByRole('link', { name: /Climbing crew/ }).count()).toBe(0);
    expect((await conversation()).archived).toBe(true);
    await alice.page.getByRole('tab', { name: 'Archived' }).click();
    await chats().getByRole('link', { name: /^Climbing crew/ }).click();
    await openInfo();
    await info().getByRole('button', { name: 'Unarchive' }).click();
    await expect.poll(async () => (await conversation()).archived).toBe(false);
    await alice.page.getByRole('tab', { name: 'Chats' }).click();
    await chats().getByRole('link', { name: /^Climbing crew/ }).waitFor();
  });

  it('forwards a message to at most five conversations, marked as forwarded', async () => {
    const others: ApiUser[] = [carol];
    for (const name of ['erin', 'frank', 'gina', 'hugo', 'ivy']) others.push(await h.server.api.signUp(name, { displayName: name[0]!.toUpperCase() + name.slice(1) }));
    const dms: Record<string, string> = {};
    for (const u of others) dms[u.id] = (await h.server.api.post('/v1/conversations', { type: 'direct', userId: u.id }, aliceToken)).body.id;
    await chats().getByRole('link', { name: /^Ivy/ }).waitFor();
    await chats().getByRole('link', { name: /^Climbing crew/ }).click();
    await h.server.api.post(`/v1/conversations/${groupId}/messages`, { clientId: 'f1', kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: 'The gym opens at 8' }) } }, bob.token);
    const original = timeline().getByTestId('message').filter({ hasText: 'The gym opens at 8' });
    await original.hover();
    await original.getByRole('button', { name: 'More actions' }).click();
    await alice.page.getByRole('menuitem', { name: 'Forward' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'Forward to…' });
    for (const name of ['Carol Diaz', 'Erin', 'Frank', 'Gina', 'Hugo']) await dialog.getByLabel(name).check();
    // Five is the most: the rest cannot be chosen.
    expect(await dialog.getByLabel('Ivy').isDisabled()).toBe(true);
    expect(await axe(alice.page)).toEqual([]);
    await dialog.getByLabel('Hugo').uncheck();
    await dialog.getByRole('button', { name: 'Forward' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'Forwarded to 4 conversations.' }).waitFor();

    const got = await h.server.api.get(`/v1/conversations/${dms[carol.id]}/messages`, carol.token);
    const copy = JSON.parse(got.body.messages.at(-1).content.data);
    expect(copy).toMatchObject({ type: 'text', text: 'The gym opens at 8', forwarded: true });
    expect((await h.server.api.get(`/v1/conversations/${dms[others[4]!.id]}/messages`, aliceToken)).body.messages).toEqual([]);
    await chats().getByRole('link', { name: /^Carol Diaz/ }).click();
    const forwarded = timeline().getByTestId('message').filter({ hasText: 'The gym opens at 8' });
    await forwarded.getByText('Forwarded').waitFor();
  });

  it('marks a conversation where I was mentioned, until I read it', async () => {
    const me = (await h.server.api.get('/v1/me', aliceToken)).body;
    const text = '@Alice Rivers can you book the wall?';
    const content = { type: 'text', text, mentions: [{ userId: me.id, offset: 0, length: '@Alice Rivers'.length }] };
    await h.server.api.post(`/v1/conversations/${groupId}/messages`, { clientId: 'm1', kind: 'message', content: { encoding: 'plain', data: JSON.stringify(content) } }, bob.token);
    const marked = () => chats().getByRole('link', { name: /Climbing crew.*you were mentioned/s }).count();
    await expect.poll(marked).toBe(1);
    await chats().getByRole('link', { name: /^Climbing crew/ }).click();
    await timeline().getByTestId('message').filter({ hasText: 'book the wall' }).locator('.mention').waitFor();
    // Read now: back on another conversation, the mark is gone.
    await chats().getByRole('link', { name: /^Carol Diaz/ }).click();
    await alice.page.getByRole('heading', { level: 2, name: 'Carol Diaz' }).waitFor();
    await expect.poll(marked).toBe(0);
  });

  it('hands the group over to another member', async () => {
    await chats().getByRole('link', { name: /^Climbing crew/ }).click();
    await openInfo();
    await info().getByRole('button', { name: 'Make owner Bob Stone' }).click();
    await timeline().getByText(/You made Bob Stone the owner/).waitFor();
    const roles = Object.fromEntries((await conversation()).members.map((m: { userId: string; role: string }) => [m.userId, m.role]));
    expect(roles[bob.id]).toBe('owner');
    expect(Object.values(roles).filter((r) => r === 'owner')).toHaveLength(1);
    await expect.poll(() => info().getByRole('button', { name: /^Make owner/ }).count()).toBe(0);
    expect(alice.dialogs.some((d) => d.startsWith('confirm: Make Bob Stone the owner'))).toBe(true);
    expect(alice.errors).toEqual([]);
  });
});
