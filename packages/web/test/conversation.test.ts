import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axe, openPerson, signUpInBrowser, startHarness, type Harness, type Person } from './browser.ts';

/**
 * The rest of what people do in a conversation and in settings, in Chromium against the real
 * server: pinned messages, the keyboard, notifications while the tab is hidden, retrying a
 * failed send, and every settings screen. Alice is in the browser; the others use the API.
 */
describe('web app: pins, keyboard, notifications, retry, settings', () => {
  let h: Harness;
  let alice: Person;
  let aliceId: string;
  let bob: { id: string; token: string; username: string };
  let dm: string;
  const aliceName = `alice_${Math.random().toString(36).slice(2, 7)}`;

  const timeline = () => alice.page.getByRole('log');
  const bubble = (text: string | RegExp) => timeline().getByTestId('message').filter({ hasText: text });
  const send = async (text: string) => {
    const box = alice.page.getByRole('textbox', { name: 'Message' });
    await box.fill(text);
    await box.press('Enter');
  };
  const bobSays = (text: string, clientId: string) =>
    h.server.api.post(`/v1/conversations/${dm}/messages`, { clientId, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text }) } }, bob.token);
  const token = async () => (JSON.parse((await alice.page.evaluate(() => localStorage.getItem('parley.session'))) ?? '{}') as { token: string }).token;

  beforeAll(async () => {
    h = await startHarness();
    alice = await openPerson(h);
    // The page cannot be hidden for real in a headless browser: a switch stands in for the tab's
    // visibility, and a recording Notification (permission granted) for the system's.
    await alice.context.addInitScript(() => {
      const w = window as unknown as { __hidden: boolean; __notes: { title: string; body: string }[]; Notification: unknown };
      w.__hidden = false;
      w.__notes = [];
      Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => w.__hidden });
      Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (w.__hidden ? 'hidden' : 'visible') });
      w.Notification = class {
        static permission = 'granted';
        static requestPermission = async () => 'granted';
        onclick: (() => void) | null = null;
        constructor(title: string, options?: { body?: string }) {
          w.__notes.push({ title, body: options?.body ?? '' });
        }
        close() {}
      };
    });
    await signUpInBrowser(alice, aliceName, 'Alice Rivers');
    aliceId = (await h.server.api.get('/v1/me', await token())).body.id;
    bob = await h.server.api.signUp('bob', { displayName: 'Bob Stone' });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it('pins a message: the bar shows it to both, and an unpin clears it live', async () => {
    await alice.page.getByRole('searchbox', { name: 'Search people' }).fill(bob.username);
    await alice.page.getByRole('button', { name: 'Message Bob Stone' }).click();
    await alice.page.getByRole('heading', { level: 2, name: 'Bob Stone' }).waitFor();
    dm = decodeURIComponent(new URL(alice.page.url()).pathname.split('/')[2]!);
    await send('Meet at the north gate at 9');
    await expect.poll(() => bubble('north gate').getAttribute('data-status')).toMatch(/sent|delivered|read/);
    expect((await h.server.api.post(`/v1/conversations/${dm}/accept`, undefined, bob.token)).status).toBe(200);
    // Today's messages sit under a "Today" separator.
    expect(await timeline().getByRole('separator', { name: 'Today' }).count()).toBe(1);

    const mine = bubble('north gate');
    await mine.hover();
    await mine.getByRole('button', { name: 'More actions' }).click();
    await alice.page.getByRole('menuitem', { name: 'Pin' }).click();
    const bar = alice.page.getByRole('region', { name: 'Pinned messages' });
    await bar.getByText('Meet at the north gate at 9').waitFor();
    await timeline().getByText('You pinned a message').waitFor();
    const pins = await h.server.api.get(`/v1/conversations/${dm}/pins`, bob.token);
    expect(pins.body.pins).toHaveLength(1);
    expect(await axe(alice.page)).toEqual([]);

    // Bob unpins it (any member may, in a direct conversation): the bar goes away at once.
    expect((await h.server.api.delete(`/v1/conversations/${dm}/pins/${pins.body.pins[0].messageId}`, bob.token)).status).toBe(204);
    await timeline().getByText('Bob Stone unpinned a message').waitFor();
    await expect.poll(() => bar.count()).toBe(0);
  });

  it('reacts from the keyboard; a message arriving meanwhile does not move the focus', async () => {
    expect((await bobSays('Which gate again?', 'k1')).status).toBe(201);
    const target = bubble('Which gate again?');
    await target.waitFor();
    await target.getByRole('button', { name: /React to Bob Stone/ }).focus();
    await alice.page.keyboard.press('Enter');
    const focused = () => alice.page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
    await expect.poll(focused).toBe('React with 👍');
    await alice.page.keyboard.press('ArrowRight');
    await alice.page.keyboard.press('ArrowRight');
    expect(await focused()).toBe('React with 😂');
    expect((await bobSays('The north one', 'k2')).status).toBe(201);
    await bubble('The north one').waitFor();
    expect(await focused()).toBe('React with 😂');
    // Down leaves the quick row for the grid; Up comes back.
    await alice.page.keyboard.press('ArrowDown');
    expect(await focused()).toMatch(/^Emoji /);
    await alice.page.keyboard.press('ArrowUp');
    expect(await focused()).toBe('React with 😂');
    await alice.page.keyboard.press('Enter');
    await target.getByRole('button', { name: /😂 1/ }).waitFor();
    // The picker closed and gave the focus back to the button that opened it.
    await expect.poll(focused).toMatch(/^React to Bob Stone/);
    const env = await h.server.api.get(`/v1/conversations/${dm}/messages`, bob.token);
    expect(env.body.messages.filter((m: { kind: string }) => m.kind === 'reaction')).toHaveLength(1);
  });

  it('notifies of a new message only while the tab is hidden, without its text; the title counts it', async () => {
    await alice.page.evaluate(() => ((window as unknown as { __hidden: boolean }).__hidden = true));
    expect((await bobSays('The secret plan is at noon', 'n1')).status).toBe(201);
    await bubble('secret plan').waitFor();
    const notes = () => alice.page.evaluate(() => (window as unknown as { __notes: { title: string; body: string }[] }).__notes);
    await expect.poll(async () => (await notes()).length).toBe(1);
    const [note] = await notes();
    expect(note!.title).toBe('Bob Stone');
    expect(JSON.stringify(note)).not.toContain('secret');
    // Unread while hidden: the tab's title says so, and seeing the tab again reads it.
    await expect.poll(() => alice.page.title()).toBe('(1) Parley');
    await alice.page.evaluate(() => {
      (window as unknown as { __hidden: boolean }).__hidden = false;
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await expect.poll(() => alice.page.title()).toBe('Parley');

    expect((await bobSays('And bring water', 'n2')).status).toBe(201);
    await bubble('bring water').waitFor();
    expect(await notes()).toHaveLength(1);
  });

  it('a send refused by the server fails visibly and is retried with the same clientId', async () => {
    expect((await h.server.api.put(`/v1/blocks/${aliceId}`, undefined, bob.token)).status).toBeLessThan(300);
    await send('Are you still coming?');
    const failed = bubble('still coming');
    await expect.poll(() => failed.getAttribute('data-status')).toBe('failed');
    expect(await failed.getByRole('alert').innerText()).toContain('Not sent');
    const outbox = await alice.page.evaluate((key) => localStorage.getItem(key), `parley.outbox.${aliceId}`);
    const entries = Object.values(JSON.parse(outbox ?? '{}') as Record<string, { clientId: string; content: { text: string } }>);
    const entry = entries.find((e) => e.content.text === 'Are you still coming?');
    expect(entry).toBeTruthy();

    expect((await h.server.api.delete(`/v1/blocks/${aliceId}`, bob.token)).status).toBe(204);
    await failed.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => failed.getAttribute('data-status')).toMatch(/sent|delivered|read/);
    const history = await h.server.api.get(`/v1/conversations/${dm}/messages`, bob.token);
    const copies = history.body.messages.filter((m: { content: { data: string } | null }) => m.content && JSON.parse(m.content.data).text === 'Are you still coming?');
    expect(copies).toHaveLength(1);
    expect(copies[0].clientId).toBe(entry!.clientId);
  });

  it('shows the edit history of an edited message', async () => {
    await send('Lunch at 12');
    const msg = bubble('Lunch at 12');
    await expect.poll(() => msg.getAttribute('data-status')).toMatch(/sent|delivered|read/);
    for (const text of ['Lunch at 1', 'Lunch at 1:30']) {
      const current = bubble(/^.*Lunch at /).last();
      await current.hover();
      await current.getByRole('button', { name: 'More actions' }).click();
      await alice.page.getByRole('menuitem', { name: 'Edit' }).click();
      const box = alice.page.getByRole('textbox', { name: 'Edit message' });
      await box.fill(text);
      await box.press('Enter');
      await bubble(text).waitFor();
    }
    await bubble('Lunch at 1:30').getByRole('button', { name: 'Edited: show the edit history' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'Edit history' });
    const versions = dialog.getByRole('listitem');
    await expect.poll(() => versions.allInnerTexts()).toHaveLength(3);
    const texts = await versions.allInnerTexts();
    expect(texts.map((t) => t.split('\n').at(-1))).toEqual(['Lunch at 12', 'Lunch at 1', 'Lunch at 1:30']);
    expect(texts[0]).toMatch(/^Sent/);
    expect(texts[2]).toMatch(/current/);
    expect(await axe(alice.page)).toEqual([]);
    await alice.page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
  });

  it('sends an image with a thumbnail made in the browser; the original downloads on demand', async () => {
    // An 800×600 PNG, drawn by the browser itself.
    const dataUrl = await alice.page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = 800;
      c.height = 600;
      const ctx = c.getContext('2d')!;
      ctx.fillStyle = '#3a7';
      ctx.fillRect(0, 0, 800, 600);
      ctx.fillStyle = '#fd0';
      ctx.fillRect(100, 100, 300, 200);
      return c.toDataURL('image/png');
    });
    const png = Buffer.from(dataUrl.split(',')[1]!, 'base64');
    await alice.page.locator('.composer input[type=file]').setInputFiles({ name: 'view.png', mimeType: 'image/png', buffer: png });
    await alice.page.getByRole('button', { name: 'Remove view.png' }).waitFor();
    await send('The view from the top');
    const shown = bubble('The view from the top');
    const thumb = shown.getByTestId('thumbnail');
    await thumb.waitFor();
    expect(await thumb.evaluate((img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight])).toEqual([320, 240]);

    const history = await h.server.api.get(`/v1/conversations/${dm}/messages`, bob.token);
    const env = history.body.messages.find((m: { content: { data: string } | null }) => m.content && JSON.parse(m.content.data).text === 'The view from the top');
    const info = JSON.parse(env.content.data).attachments[0];
    expect(info).toMatchObject({ kind: 'image', contentType: 'image/png', size: png.length, name: 'view.png', width: 800, height: 600, thumbnail: { contentType: 'image/jpeg', width: 320, height: 240 } });
    expect(env.attachmentIds).toEqual([info.id, info.thumbnail.id]);
    const small = await fetch(`${h.server.url}/v1/attachments/${info.thumbnail.id}`, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(small.headers.get('content-type')).toMatch(/^image\/jpeg/);

    const [download] = await Promise.all([alice.page.waitForEvent('download'), thumb.click()]);
    expect(download.suggestedFilename()).toBe('view.png');
    expect(readFileSync((await download.path())!)).toEqual(png);
  });

  it('sends several files as one message each; after a failed upload, only the rest go again', async () => {
    let uploads = 0;
    const uploadsUrl = /\/v1\/attachments(\?|$)/;
    await alice.page.route(uploadsUrl, async (route) => {
      uploads += 1;
      // The second file's upload fails once; everything else goes through.
      if (route.request().method() === 'POST' && uploads === 2) await route.abort('connectionreset');
      else await route.continue();
    });
    await alice.page.locator('.composer input[type=file]').setInputFiles([
      { name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from('route: north gate, then the ridge') },
      { name: 'list.txt', mimeType: 'text/plain', buffer: Buffer.from('rope, water, snacks') },
    ]);
    await send('Two files for the trip');
    await alice.page.getByRole('status').filter({ hasText: /Cannot reach the server/ }).waitFor();
    expect(await alice.page.getByRole('button', { name: 'Remove plan.txt' }).count()).toBe(0);
    await alice.page.getByRole('button', { name: 'Remove list.txt' }).waitFor();
    expect(await alice.page.getByRole('textbox', { name: 'Message' }).inputValue()).toBe('');
    await alice.page.getByRole('button', { name: 'Send' }).click();
    await timeline().getByRole('button', { name: /list\.txt/ }).waitFor();
    await alice.page.unroute(uploadsUrl);
    expect(uploads).toBe(3);

    const history = await h.server.api.get(`/v1/conversations/${dm}/messages`, bob.token);
    const files = history.body.messages
      .filter((m: { kind: string; content: { data: string } | null }) => m.kind === 'message' && m.content && JSON.parse(m.content.data).attachments?.[0]?.kind === 'file')
      .map((m: { content: { data: string } }) => JSON.parse(m.content.data))
      .map((c: { text: string; attachments: { name: string }[] }) => [c.attachments[0]!.name, c.text]);
    expect(files).toEqual([
      ['plan.txt', 'Two files for the trip'],
      ['list.txt', ''],
    ]);
  });

  it('records and sends a voice note with MediaRecorder', async () => {
    await alice.context.grantPermissions(['microphone'], { origin: h.server.url });
    await alice.page.getByRole('button', { name: 'Record a voice note' }).click();
    const recording = alice.page.getByRole('status').filter({ hasText: /^Recording/ });
    // Record until the clock shows a full second (the fake microphone plays a tone).
    await recording.filter({ hasText: /Recording 0:0[1-9]/ }).waitFor();
    await alice.page.getByRole('button', { name: 'Send voice note' }).click();
    const note = timeline().getByTestId('message').last().getByLabel(/^Voice note, 0:0\d$/);
    await note.waitFor();
    await expect.poll(() => timeline().getByTestId('message').last().getAttribute('data-status')).toMatch(/sent|delivered|read/);

    const history = await h.server.api.get(`/v1/conversations/${dm}/messages`, bob.token);
    const last = history.body.messages.filter((m: { kind: string }) => m.kind === 'message').at(-1);
    const info = JSON.parse(last.content.data).attachments[0];
    expect(info.kind).toBe('voice');
    expect(info.contentType).toMatch(/^audio\//);
    expect(info.durationMs).toBeGreaterThanOrEqual(1000);
    const audio = await fetch(`${h.server.url}/v1/attachments/${info.id}`, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(audio.status).toBe(200);
    expect((await audio.arrayBuffer()).byteLength).toBe(info.size);
    expect(info.size).toBeGreaterThan(0);
  });

  it('settings: profile, privacy, connections and blocked people change on the server', async () => {
    const carol = await h.server.api.signUp('carol', { displayName: 'Carol Diaz' });
    const dave = await h.server.api.signUp('dave', { displayName: 'Dave Ito' });
    expect((await h.server.api.post(`/v1/connections/${aliceId}`, undefined, carol.token)).status).toBeLessThan(300);
    expect((await h.server.api.put(`/v1/blocks/${dave.id}`, undefined, await token())).status).toBeLessThan(300);
    await alice.page.getByRole('button', { name: 'Settings' }).click();
    await alice.page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();

    await alice.page.getByLabel('Display name').fill('Alice R.');
    await alice.page.getByLabel('About').fill('Gardener, runner');
    await alice.page.getByRole('button', { name: 'Save profile' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'Saved.' }).first().waitFor();
    const profile = await h.server.api.get(`/v1/users/${aliceId}`, bob.token);
    expect([profile.body.displayName, profile.body.bio]).toEqual(['Alice R.', 'Gardener, runner']);

    await alice.page.getByLabel('Who can message me').selectOption('connections');
    await alice.page.getByLabel('Read receipts').uncheck();
    await expect.poll(async () => (await h.server.api.get('/v1/me/privacy', await token())).body).toMatchObject({ whoCanMessage: 'connections', readReceipts: false });

    const incoming = alice.page.getByRole('list', { name: 'Connection requests to you' });
    await incoming.getByRole('button', { name: 'Accept Carol Diaz' }).click();
    await alice.page.getByRole('list', { name: 'Your connections' }).getByRole('button', { name: 'Remove Carol Diaz' }).waitFor();
    const connected = await h.server.api.get('/v1/connections?state=connected', carol.token);
    expect(connected.body.connections.map((c: { user: { id: string } }) => c.user.id)).toEqual([aliceId]);

    const blocked = alice.page.getByRole('list', { name: 'Blocked people' });
    await blocked.getByRole('button', { name: 'Unblock Dave Ito' }).click();
    await alice.page.getByText('You haven’t blocked anyone.').waitFor();
    expect((await h.server.api.get('/v1/blocks', await token())).body.blocks).toEqual([]);
    expect(await axe(alice.page)).toEqual([]);
  });

  it('settings: exports my data, then deletes the account for good', async () => {
    const [download] = await Promise.all([alice.page.waitForEvent('download'), alice.page.getByRole('button', { name: 'Download my data' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^parley-export-\d{4}-\d{2}-\d{2}\.json$/);
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(JSON.stringify(exported)).toContain(aliceName);
    expect(JSON.stringify(exported)).toContain('Meet at the north gate at 9');

    await alice.page.getByRole('button', { name: 'Delete account…' }).click();
    await alice.page.getByLabel('Enter your password to delete your account for good').fill('wrong password');
    await alice.page.getByRole('button', { name: 'Delete my account' }).click();
    await alice.page.getByRole('alert').filter({ hasText: /password/i }).waitFor();
    await alice.page.getByLabel('Enter your password to delete your account for good').fill('correct horse battery');
    await alice.page.getByRole('button', { name: 'Delete my account' }).click();
    await alice.page.getByRole('heading', { name: 'Welcome back' }).waitFor();
    const again = await h.server.api.post('/v1/sessions', { username: aliceName, password: 'correct horse battery' });
    expect(again.status).toBe(401);
    // The failed requests were on purpose: the cut upload, and the wrong password.
    expect(alice.errors).toEqual(['Failed to load resource: net::ERR_CONNECTION_RESET', 'Failed to load resource: the server responded with a status of 403 (Forbidden)']);
  });
});
