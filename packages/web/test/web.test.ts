import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axe, openPerson, screenshotDir, signUpInBrowser, startHarness, type Harness, type Person } from './browser.ts';

/**
 * The web app end to end, as people use it: two people in two browsers, a third and a
 * fourth through the API, against a real server with its real WebSocket.
 */
describe('web app in Chromium', () => {
  let h: Harness;
  let alice: Person;
  let bob: Person;
  const shots = screenshotDir();
  const suffix = Math.random().toString(36).slice(2, 7);
  const names = { alice: `alice_${suffix}`, bob: `bob_${suffix}` };
  let carol: { id: string; token: string; username: string };
  let groupId: string;

  const timeline = (p: Person) => p.page.getByRole('log');
  const bubble = (p: Person, text: string | RegExp) => timeline(p).getByTestId('message').filter({ hasText: text });
  const send = async (p: Person, text: string) => {
    const box = p.page.getByRole('textbox', { name: 'Message' });
    await box.fill(text);
    await box.press('Enter');
  };
  const box = () => alice.page.getByRole('textbox', { name: 'Message' });
  const open = async (p: Person, name: RegExp) => {
    await p.page.getByRole('link', { name }).first().click();
    await p.page.getByRole('heading', { level: 2, name }).waitFor();
  };

  beforeAll(async () => {
    h = await startHarness();
    alice = await openPerson(h);
    bob = await openPerson(h);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it('signs up in the browser; the sign-in screen and the empty inbox pass axe', async () => {
    await alice.page.goto('/');
    await alice.page.getByRole('heading', { name: 'Welcome back' }).waitFor();
    expect(await axe(alice.page)).toEqual([]);
    await alice.page.screenshot({ path: path.join(shots, 'sign-in.png') });
    await signUpInBrowser(alice, names.alice, 'Alice Martin');
    await signUpInBrowser(bob, names.bob, 'Bob Chen');
    expect(await axe(alice.page)).toEqual([]);
  });

  it('remembers the device across a reload, and CSP forbids inline script', async () => {
    const res = await alice.page.reload();
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await alice.page.getByRole('searchbox', { name: 'Search people' }).waitFor();
    expect(await alice.page.locator('script:not([src])').count()).toBe(0);
  });

  it('one requests a connection, the other accepts it from Requests', async () => {
    await alice.page.getByRole('searchbox', { name: 'Search people' }).fill(names.bob);
    await alice.page.getByRole('button', { name: 'Connect with Bob Chen' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'Connection request sent to Bob Chen' }).waitFor();

    await bob.page.getByRole('tab', { name: /Requests/ }).click();
    await bob.page.reload();
    await bob.page.getByRole('button', { name: 'Accept Alice Martin' }).click();
    await bob.page.getByRole('status').filter({ hasText: 'You are now connected with Alice Martin' }).waitFor();
    const connected = await h.server.api.get('/v1/connections?state=connected', await tokenOf(bob));
    expect(connected.body.connections.map((c: { user: { username: string } }) => c.user.username)).toEqual([names.alice]);
  });

  it('they chat in real time, with formatting and delivery states', async () => {
    await alice.page.getByRole('searchbox', { name: 'Search people' }).fill(names.bob);
    await alice.page.getByRole('button', { name: 'Message Bob Chen' }).click();
    await alice.page.getByRole('heading', { level: 2, name: 'Bob Chen' }).waitFor();
    await send(alice, 'Hi Bob, **welcome** to _Parley_! Docs: https://example.com/docs.');
    const mine = bubble(alice, 'welcome');
    await mine.waitFor();
    await expect.poll(() => mine.getAttribute('data-status')).toMatch(/sent|delivered|read/);

    await bob.page.getByRole('tab', { name: 'Chats' }).click();
    await open(bob, /^Alice Martin/);
    const received = bubble(bob, 'welcome');
    await received.waitFor();
    expect(await received.locator('strong').innerText()).toBe('welcome');
    expect(await received.locator('em').innerText()).toBe('Parley');
    expect(await received.getByRole('link').getAttribute('href')).toBe('https://example.com/docs');

    // Bob has the conversation open: Alice's next message arrives without a reload, and Alice sees it read.
    await send(alice, 'Are you free on Saturday?');
    await bubble(bob, 'free on Saturday').waitFor();
    await expect.poll(() => bubble(alice, 'free on Saturday').getAttribute('data-status'), { timeout: 10_000 }).toBe('read');

    // Typing shows on the other side.
    await bob.page.getByRole('textbox', { name: 'Message' }).pressSequentially('Let me check', { delay: 20 });
    await alice.page.getByText('Bob Chen is typing…').first().waitFor();
    await bob.page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await bubble(alice, 'Let me check').waitFor();
  });

  it('react, reply, edit and unsend reach the other side', async () => {
    // Bob reacts to Alice's message with the picker.
    const target = bubble(bob, 'free on Saturday');
    await target.hover();
    await target.getByRole('button', { name: /React to/ }).click();
    await bob.page.getByRole('button', { name: 'React with 👍' }).click();
    await bubble(alice, 'free on Saturday').getByRole('button', { name: /👍 1/ }).waitFor();

    // Bob replies to it.
    await target.hover();
    await target.getByRole('button', { name: /Reply to/ }).click();
    await send(bob, 'Yes, after lunch');
    const reply = bubble(alice, 'after lunch');
    await reply.waitFor();
    expect(await reply.getByRole('button', { name: /In reply to\s*You\s*:\s*Are you free on Saturday/ }).count()).toBe(1);

    // Alice edits her first message.
    const first = bubble(alice, 'welcome');
    await first.hover();
    await first.getByRole('button', { name: 'More actions' }).click();
    await alice.page.getByRole('menuitem', { name: 'Edit' }).click();
    const box = alice.page.getByRole('textbox', { name: 'Edit message' });
    await box.fill('Hi Bob, welcome to Parley (edited)');
    await box.press('Enter');
    const edited = bubble(bob, 'welcome to Parley (edited)');
    await edited.waitFor();
    expect(await edited.innerText()).toContain('edited');

    // Alice unsends it for everyone.
    const again = bubble(alice, 'welcome to Parley (edited)');
    await again.hover();
    await again.getByRole('button', { name: 'More actions' }).click();
    await alice.page.getByRole('menuitem', { name: 'Unsend for everyone' }).click();
    await bubble(bob, 'This message was unsent').waitFor();
    expect(await bubble(bob, 'welcome to Parley').count()).toBe(0);
    expect(alice.dialogs.some((d) => d.startsWith('confirm'))).toBe(true);
  });

  it('renders hostile text as text: no markup, no script, no javascript: links', async () => {
    const before = bob.dialogs.length;
    const hostile = '<img src=x onerror=alert(1)> <script>alert(2)</script> javascript:alert(3) [x](javascript:alert(4)) **<b>bold</b>** https://ok.example/';
    await send(alice, hostile);
    const shown = bubble(bob, 'onerror');
    await shown.waitFor();
    expect(await shown.innerText()).toContain('<img src=x onerror=alert(1)>');
    expect(await shown.innerText()).toContain('<script>alert(2)</script>');
    expect(await bob.page.locator('.timeline img, .timeline script, .timeline b').count()).toBe(0);
    const hrefs = await shown.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(hrefs).toEqual(['https://ok.example/']);
    expect(await bob.page.locator('a[href^="javascript" i]').count()).toBe(0);
    await bob.page.waitForTimeout(300);
    expect(bob.dialogs.slice(before)).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('the conversation screen passes axe in light and dark themes', async () => {
    expect(await axe(bob.page)).toEqual([]);
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    expect(await axe(bob.page)).toEqual([]);
    await bob.page.emulateMedia({ colorScheme: 'light' });
  });

  it('creates a group with a third person; everyone sees it live', async () => {
    carol = await h.server.api.signUp('carol', { displayName: 'Carol Diaz' });
    // Carol lets anyone add her to groups (the default is connections only).
    await h.server.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, carol.token);

    await alice.page.getByRole('button', { name: 'New group' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Group name').fill('Weekend plans');
    await dialog.getByLabel('Add people').fill(names.bob);
    await dialog.getByRole('checkbox').first().check();
    await dialog.getByLabel('Add people').fill(carol.username);
    await dialog.getByText('Carol Diaz').waitFor();
    await dialog.getByRole('listitem').filter({ hasText: 'Carol Diaz' }).getByRole('checkbox').check();
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await alice.page.getByRole('heading', { level: 2, name: 'Weekend plans' }).waitFor();
    await send(alice, 'Picnic on Saturday?');

    await open(bob, /^Weekend plans/);
    await bubble(bob, 'Picnic on Saturday?').waitFor();
    expect(await bob.page.getByText('3 members').count()).toBe(1);

    const carolView = await h.server.api.get('/v1/conversations', carol.token);
    const group = carolView.body.conversations.find((c: { title: string }) => c.title === 'Weekend plans');
    expect(group).toBeTruthy();
    groupId = group.id;
    // Carol answers through the API: Bob's open group shows it at once, with her name.
    await h.server.api.post(`/v1/conversations/${group.id}/messages`, { clientId: 'c1', kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: 'Count me in' }) } }, carol.token);
    const fromCarol = bubble(bob, 'Count me in');
    await fromCarol.waitFor();

    // The group's info panel shows roles and passes axe.
    await alice.page.getByRole('button', { name: 'Conversation info' }).click();
    const info = alice.page.getByRole('complementary', { name: 'Group info' });
    await info.getByText('owner', { exact: true }).waitFor();
    expect(await info.getByRole('list', { name: 'Members' }).getByRole('listitem').count()).toBe(3);
    expect(await axe(alice.page)).toEqual([]);
    await alice.page.getByRole('button', { name: 'Close info' }).click();
  });

  it('mentions, the disappearing-timer notice, and the unread count in the tab title', async () => {
    // Alice mentions Carol by picking her from the suggestions.
    await open(alice, /^Weekend plans/);
    const box = alice.page.getByRole('textbox', { name: 'Message' });
    await box.pressSequentially('Thanks @Car', { delay: 10 });
    await alice.page.getByRole('option', { name: /Carol Diaz/ }).waitFor();
    await box.press('Enter');
    // Typed on at once: every keystroke lands after the mention, none before it.
    await box.pressSequentially('for the sandwiches');
    expect(await box.inputValue()).toBe('Thanks @Carol Diaz for the sandwiches');
    await box.press('Enter');
    const mention = bubble(bob, 'for the sandwiches').locator('.mention');
    await mention.waitFor();
    expect(await mention.innerText()).toBe('@Carol Diaz');

    // The owner turns on disappearing messages: everyone sees the notice and the timer.
    await alice.page.getByRole('button', { name: 'Conversation info' }).click();
    await alice.page.getByLabel('Disappearing messages').selectOption('3600');
    await timeline(bob).getByText('Alice Martin set messages to disappear after 1 hour').waitFor();
    await bob.page.getByRole('banner').or(bob.page.locator('.conv-head')).getByText('1 hour').first().waitFor();
    await alice.page.getByLabel('Disappearing messages').selectOption('0');
    await timeline(bob).getByText('Alice Martin turned off disappearing messages').waitFor();
    await alice.page.getByRole('button', { name: 'Close info' }).click();

    // Bob looks at another conversation: new group messages count in his tab title.
    await open(bob, /^Alice Martin/);
    await expect.poll(() => bob.page.title()).toBe('Parley');
    await send(alice, 'Who brings drinks?');
    await expect.poll(() => bob.page.title()).toBe('(1) Parley');
    await open(bob, /^Weekend plans/);
    await expect.poll(() => bob.page.title()).toBe('Parley');
  });

  it('a blocked person cannot reach them', async () => {
    const mallory = await h.server.api.signUp('mallory', { displayName: 'Mallory' });
    const bobId = (await h.server.api.get('/v1/me', await tokenOf(bob))).body.id;
    const opened = await h.server.api.post('/v1/conversations', { type: 'direct', userId: bobId }, mallory.token);
    expect(opened.status).toBe(201);
    const conversationId = opened.body.id;
    const post = (text: string, clientId: string) =>
      h.server.api.post(`/v1/conversations/${conversationId}/messages`, { clientId, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text }) } }, mallory.token);
    expect((await post('hey, buy my stuff', 'm1')).status).toBe(201);

    // Bob finds the request in Requests and blocks her from it.
    await bob.page.getByRole('tab', { name: /Requests/ }).click();
    await open(bob, /^Mallory/);
    await bubble(bob, 'buy my stuff').waitFor();
    expect(await axe(bob.page)).toEqual([]);
    await bob.page.getByRole('region', { name: 'Message request' }).getByRole('button', { name: 'Block' }).click();
    await bob.page.getByRole('status').filter({ hasText: 'Mallory is blocked' }).waitFor();

    const again = await post('still there?', 'm2');
    expect(again.status).toBe(403);
    const retry = await h.server.api.post('/v1/conversations', { type: 'direct', userId: bobId }, mallory.token);
    expect(retry.status).toBe(403);
    expect(retry.body.error.code).toBe('messaging_not_allowed');
    const search = await h.server.api.get(`/v1/users?query=${names.bob}`, mallory.token);
    expect(search.body.users).toEqual([]);
    await bob.page.getByRole('tab', { name: /Requests/ }).click();
    expect(await bob.page.getByRole('link', { name: /Mallory/ }).count()).toBe(0);
    expect(await bob.page.getByText('still there?').count()).toBe(0);
  });

  it('settings: screens pass axe; a remote device is signed out', async () => {
    const other = await h.server.api.post('/v1/sessions', { username: names.alice, password: 'correct horse battery', deviceName: 'Old phone' });
    await alice.page.getByRole('button', { name: 'Settings' }).click();
    await alice.page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    const devices = alice.page.getByRole('list', { name: 'Signed-in devices' });
    await devices.getByRole('listitem').filter({ hasText: 'Old phone' }).waitFor();
    expect(await axe(alice.page)).toEqual([]);
    await alice.page.screenshot({ path: path.join(shots, 'settings.png'), fullPage: false });
    await devices.getByRole('button', { name: 'Sign out Old phone' }).click();
    await expect.poll(async () => (await h.server.api.get('/v1/me', other.body.session.token)).status).toBe(401);
    await expect.poll(() => devices.getByRole('listitem').filter({ hasText: 'Old phone' }).count()).toBe(0);
  });

  it('screenshots of the main screens, light, dark and narrow', async () => {
    // A lively group for the pictures: messages from the others, a reply with formatting, reactions.
    const post = (token: string, body: object) => h.server.api.post(`/v1/conversations/${groupId}/messages`, body, token);
    const text = (t: string, id: string) => ({ clientId: id, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: t }) } });
    const bobToken = await tokenOf(bob);
    await post(bobToken, text('Sounds great! I’ll bring the frisbee 🥏', 's1'));
    const sandwiches = await post(carol.token, text('I can make sandwiches 🥪 any requests?', 's2'));
    await open(alice, /^Weekend plans/);
    const ask = bubble(alice, 'any requests?');
    await ask.hover();
    await ask.getByRole('button', { name: /Reply to/ }).click();
    await send(alice, 'Yes please: **cucumber** for me! Park map: https://maps.example.org/riverside');
    await bubble(alice, 'cucumber').waitFor();
    const reaction = (emoji: string, id: string) => ({ clientId: id, kind: 'reaction', refs: { target: sandwiches.body.id }, content: { encoding: 'plain', data: JSON.stringify({ type: 'reaction', emoji, on: true }) } });
    await post(bobToken, reaction('😍', 's3'));
    const meet = await post(carol.token, text('See you at 11 by the lake 🌞', 's4'));
    await bubble(alice, 'by the lake').waitFor();
    // The owner describes the group and pins the meeting point: both show in the pictures.
    const aliceToken = await tokenOf(alice);
    expect((await h.server.api.patch(`/v1/conversations/${groupId}`, { description: 'Saturday at Riverside Park: who brings what' }, aliceToken)).status).toBe(200);
    expect((await h.server.api.post(`/v1/conversations/${groupId}/pins`, { messageId: meet.body.id }, aliceToken)).status).toBeLessThan(300);
    await alice.page.getByRole('region', { name: 'Pinned messages' }).getByText('See you at 11 by the lake').waitFor();
    await ask.getByRole('button', { name: /😍 1/ }).waitFor();
    await box().blur();
    await alice.page.mouse.move(200, 600);
    await alice.page.screenshot({ path: path.join(shots, 'conversation-light.png') });
    await alice.page.emulateMedia({ colorScheme: 'dark' });
    await alice.page.screenshot({ path: path.join(shots, 'conversation-dark.png') });
    expect(await axe(alice.page)).toEqual([]);
    await alice.page.emulateMedia({ colorScheme: 'light' });
    await alice.page.getByRole('button', { name: 'Conversation info' }).click();
    await alice.page.getByRole('complementary', { name: 'Group info' }).waitFor();
    await alice.page.screenshot({ path: path.join(shots, 'group-info.png') });
    await alice.page.getByRole('button', { name: 'Close info' }).click();

    const phone = await h.browser.newContext({ baseURL: h.server.url, viewport: { width: 390, height: 780 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, storageState: await bob.context.storageState() });
    const page = await phone.newPage();
    await page.goto('/');
    await page.getByRole('link', { name: /Weekend plans/ }).waitFor();
    expect(await page.getByRole('main').isVisible()).toBe(false);
    await page.screenshot({ path: path.join(shots, 'mobile-inbox.png') });
    await page.getByRole('link', { name: /Weekend plans/ }).click();
    await page.getByRole('log').getByText('Count me in').waitFor();
    expect(await page.getByRole('complementary', { name: 'Conversations' }).isVisible()).toBe(false);
    await page.screenshot({ path: path.join(shots, 'mobile-conversation.png') });
    await page.getByRole('button', { name: 'Back to conversations' }).click();
    await page.getByRole('searchbox', { name: 'Search people' }).waitFor();
    await phone.close();
  });

  it('attachments: an image shows as a preview on the other side', async () => {
    await open(alice, /^Weekend plans/);
    await bob.page.getByRole('tab', { name: 'Chats' }).click();
    await open(bob, /^Weekend plans/);
    // A 2×2 PNG.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
    await alice.page.locator('input[type=file]').setInputFiles({ name: 'park.png', mimeType: 'image/png', buffer: png });
    await alice.page.getByRole('button', { name: 'Remove park.png' }).waitFor();
    await send(alice, 'The spot by the lake');
    const img = bubble(bob, 'spot by the lake').getByRole('img');
    await bubble(bob, 'spot by the lake').waitFor();
    await img.waitFor();
    expect(await img.getAttribute('src')).toMatch(/^blob:/);
    expect(await img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBe(2);
  });

  it('history loads as you scroll up, keeping the reader\'s place', async () => {
    const convs = await h.server.api.get('/v1/conversations', carol.token);
    const id = convs.body.conversations.find((c: { title: string }) => c.title === 'Weekend plans').id;
    const say = (text: string, clientId: string) =>
      h.server.api.post(`/v1/conversations/${id}/messages`, { clientId, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text }) } }, carol.token);
    // Carol writes a long thread (in batches: the order within one does not matter here).
    for (let i = 1; i <= 130; i += 10) {
      const sent = await Promise.all(Array.from({ length: 10 }, (_, k) => say(`history line ${i + k}`, `h${i + k}`)));
      expect(sent.map((r) => r.status)).toEqual(Array(10).fill(201));
    }
    // A fresh load: the app fetches only the latest page of each conversation.
    await alice.page.reload();
    await open(alice, /^Weekend plans/);
    await bubble(alice, 'history line 130').waitFor();
    const line1 = timeline(alice).locator('.text', { hasText: /^history line 1$/ });
    expect(await line1.count()).toBe(0);

    // The next page is slow to come, and a new message lands meanwhile: once the page is in,
    // the message that was at the top is still in view (no jump to the oldest line).
    const oldestShown = (await timeline(alice).locator('.text').first().innerText()).trim();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let requested!: () => void;
    const asked = new Promise<void>((resolve) => (requested = resolve));
    await alice.page.route(/\/messages\?(.*&)?before=/, async (route) => {
      requested();
      await held;
      await route.continue();
    }, { times: 1 });
    await timeline(alice).evaluate(scrollToTop);
    await asked;
    expect((await say('news while you scroll back', 'h-news')).status).toBe(201);
    await bubble(alice, 'news while you scroll back').waitFor();
    release();
    await expect.poll(() => timeline(alice).getByTestId('message').count()).toBeGreaterThan(51);
    const kept = timeline(alice).locator('.text', { hasText: new RegExp(`^${oldestShown}$`) });
    const [keptBox, viewBox] = [await kept.boundingBox(), await timeline(alice).boundingBox()];
    expect(keptBox!.y).toBeGreaterThanOrEqual(viewBox!.y);
    expect(keptBox!.y).toBeLessThan(viewBox!.y + viewBox!.height);

    // Scrolling up pages the older messages in until the start of the group shows.
    await expect
      .poll(
        async () => {
          await timeline(alice).evaluate(scrollToTop);
          return timeline(alice).getByText('This is the start of the group.').count();
        },
        { timeout: 30_000 },
      )
      .toBe(1);
    await timeline(alice).evaluate(scrollToTop);
    expect(await line1.count()).toBe(1);
    // At the top, the group's very first message is in view.
    const [line, view] = [await bubble(alice, 'Picnic on Saturday?').boundingBox(), await timeline(alice).boundingBox()];
    expect(line!.y).toBeGreaterThanOrEqual(view!.y);
    expect(line!.y).toBeLessThan(view!.y + view!.height);
  }, 90_000);

  it('signs out, and signs in again', async () => {
    await bob.page.getByRole('button', { name: 'Sign out' }).click();
    await bob.page.getByRole('heading', { name: 'Welcome back' }).waitFor();
    expect(await bob.page.evaluate(() => localStorage.getItem('parley.session'))).toBeNull();
    await bob.page.getByLabel('Username').fill(names.bob);
    await bob.page.getByLabel('Password').fill('wrong password');
    await bob.page.getByRole('button', { name: 'Sign in' }).click();
    await bob.page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
    await bob.page.getByLabel('Password').fill('correct horse battery');
    await bob.page.getByRole('button', { name: 'Sign in' }).click();
    await bob.page.getByRole('link', { name: /Weekend plans/ }).waitFor();
    expect(alice.errors).toEqual([]);
  });
});

/** What the reader does: scroll the timeline to its top (the scroll event named, as the wheel would fire one). */
function scrollToTop(el: Element): void {
  el.scrollTop = 0;
  el.dispatchEvent(new Event('scroll'));
}

async function tokenOf(p: Person): Promise<string> {
  const raw = await p.page.evaluate(() => localStorage.getItem('parley.session'));
  return (JSON.parse(raw ?? '{}') as { token: string }).token;
}
