import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@parley/server/testing';
import { buildWeb, launch, openPerson, signUpInBrowser, type Harness, type Person } from './browser.ts';

/**
 * The network drops (here: the server goes away and comes back on the same port and data):
 * the app says it is offline, keeps what was written meanwhile, reconnects by itself and
 * catches up on what it missed.
 */
describe('web app: offline and reconnect', () => {
  const web = buildWeb();
  let server: TestServer;
  let h: Harness;
  let alice: Person;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { webDir: web.dir });
    h = { server, browser: await launch(), close: async () => undefined };
    alice = await openPerson(h);
  }, 120_000);

  afterAll(async () => {
    await h?.browser.close().catch(() => undefined);
    await server?.close();
    web.remove();
  });

  it('shows offline, sends what was written meanwhile, and catches up after a server restart', async () => {
    const suffix = Math.random().toString(36).slice(2, 7);
    await signUpInBrowser(alice, `alice_${suffix}`, 'Alice');
    const bob = await server.api.signUp('bob', { displayName: 'Bob' });
    await alice.page.getByRole('searchbox', { name: 'Search people' }).fill(bob.username);
    await alice.page.getByRole('button', { name: 'Message Bob' }).click();
    const box = alice.page.getByRole('textbox', { name: 'Message' });
    await box.fill('before the outage');
    await box.press('Enter');
    const log = alice.page.getByRole('log');
    await expect.poll(() => log.getByTestId('message').filter({ hasText: 'before the outage' }).getAttribute('data-status')).toMatch(/sent|delivered/);
    const conversationId = decodeURIComponent(new URL(alice.page.url()).pathname.split('/')[2]!);

    // The server goes away: the banner says so, and a message written now waits as pending.
    const port = Number(new URL(server.url).port);
    const dataDir = server.config.dataDir;
    await server.server.close();
    await alice.page.getByTestId('offline-banner').waitFor({ timeout: 15_000 });
    expect(await alice.page.getByTestId('offline-banner').innerText()).toMatch(/offline|Connecting/i);
    await box.fill('written while offline');
    await box.press('Enter');
    const pending = log.getByTestId('message').filter({ hasText: 'written while offline' });
    await pending.waitFor();
    expect(await pending.getAttribute('data-status')).toMatch(/pending|failed/);

    // Back on the same port and data: the app reconnects by itself, sends the pending
    // message exactly once, and shows what Bob sent after it came back.
    const restarted = await startTestServer('sqlite', { webDir: web.dir, port, dataDir });
    server = restarted;
    await restarted.api.post(
      `/v1/conversations/${conversationId}/messages`,
      { clientId: 'b1', kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: 'welcome back' }) } },
      bob.token,
    );
    await log.getByTestId('message').filter({ hasText: 'welcome back' }).waitFor({ timeout: 30_000 });
    const failed = await pending.getAttribute('data-status');
    if (failed === 'failed') await pending.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => pending.getAttribute('data-status'), { timeout: 30_000 }).toMatch(/sent|delivered|read/);
    await expect.poll(() => alice.page.getByTestId('offline-banner').count(), { timeout: 15_000 }).toBe(0);
    const history = await restarted.api.get(`/v1/conversations/${conversationId}/messages`, bob.token);
    const texts = history.body.messages.map((m: { content: { data: string } | null }) => (m.content ? JSON.parse(m.content.data).text : null));
    expect(texts.filter((t: string) => t === 'written while offline')).toHaveLength(1);
    // Bob's message and the resent one race for the next seq after the restart.
    expect(texts.slice().sort()).toEqual(['before the outage', 'welcome back', 'written while offline']);
  }, 120_000);
});
