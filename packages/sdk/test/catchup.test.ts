import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { batchSize } from '../src/client.ts';
import { ParleyClient, type FetchLike } from '../src/index.ts';
import { signedUpClient, suiteServer } from './support.ts';

/** A fetch that records each request as `METHOD /path?query`, and can refuse some. */
function recordingFetch(refuse: (line: string) => boolean = () => false) {
  const lines: string[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(String(input));
    const line = `${init?.method ?? 'GET'} ${url.pathname}${url.search}`;
    lines.push(line);
    if (refuse(line)) throw new TypeError('fetch failed');
    return globalThis.fetch(input, init);
  };
  return { fetch, lines, pages: () => lines.filter((l) => /^GET \/v1\/conversations\/[^/]+\/messages/.test(l)), batches: () => lines.filter((l) => l === 'POST /v1/sync/messages') };
}

const post = (client: ParleyClient, conversationId: string, text: string) =>
  client.messages.post(conversationId, { clientId: `${text}-${Math.random().toString(36).slice(2)}`, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text }) } });

/**
 * A device that comes back asks for the pages of every conversation that changed in one
 * request (POST /v1/sync/messages) rather than one request per conversation, and still
 * ends up with everything, in order, exactly once.
 */
describe('SDK catch-up in batches [sqlite]', () => {
  const suite = suiteServer('sqlite');
  const { clients } = suite;

  /** A reader with a direct conversation with each of `n` friends. */
  async function circle(n: number, readerOptions: { pageSize?: number; refuse?: (line: string) => boolean } = {}) {
    const rec = recordingFetch(readerOptions.refuse);
    const reader = await signedUpClient(suite.t, 'cu_r', { fetch: rec.fetch, pageSize: readerOptions.pageSize });
    clients.push(reader.client);
    const friends = [];
    for (let i = 0; i < n; i++) {
      const f = await signedUpClient(suite.t, `cu_f${i}`);
      clients.push(f.client);
      await f.client.connections.request(reader.id);
      await reader.client.connections.accept(f.id);
      const dm = await f.client.openDirect(reader.id);
      friends.push({ ...f, dm: dm.id });
    }
    return { reader, friends, rec };
  }

  const texts = (c: ParleyClient, conv: string) => c.store.getMessages(conv).map((m) => m.text);

  it('after a reconnect, fetches the missed messages of every changed conversation with one request', async () => {
    const { reader, friends, rec } = await circle(4);
    for (const f of friends) await post(f.client, f.dm, `${f.username}-before`);
    await reader.client.connect();
    for (const f of friends) expect(texts(reader.client, f.dm)).toEqual([`${f.username}-before`]);
    reader.client.disconnect();

    // Away: three conversations move on, one of them by more than a page (200); one does not.
    const [big, ...rest] = friends;
    for (let i = 0; i < 205; i++) await post(big!.client, big!.dm, `big-${i}`);
    for (const f of rest.slice(0, 2)) for (let i = 0; i < 3; i++) await post(f.client, f.dm, `${f.username}-${i}`);
    // And a group the reader was added to meanwhile: all of it is news.
    const group = await rest[0]!.client.conversations.create({ type: 'group', title: 'while away', memberIds: [reader.id] });
    for (let i = 0; i < 2; i++) await post(rest[0]!.client, group.id, `group-${i}`);
    const announced: string[] = [];
    reader.client.on('message', (e, content) => announced.push(content?.type === 'text' ? content.text : '?'));
    rec.lines.length = 0;
    const synced = new Promise<void>((resolve) => reader.client.once('synced', resolve));
    await reader.client.connect();
    await synced;

    expect(texts(reader.client, big!.dm)).toEqual([`${big!.username}-before`, ...Array.from({ length: 205 }, (_, i) => `big-${i}`)]);
    for (const f of rest.slice(0, 2)) expect(texts(reader.client, f.dm)).toEqual([`${f.username}-before`, ...[0, 1, 2].map((i) => `${f.username}-${i}`)]);
    expect(texts(reader.client, rest[2]!.dm)).toEqual([`${rest[2]!.username}-before`]);
    expect(texts(reader.client, group.id)).toEqual(['group-0', 'group-1']);
    // Each missed message announced once.
    const texted = announced.filter((text) => text !== '?');
    expect(texted).toHaveLength(205 + 6 + 2);
    expect(new Set(texted).size).toBe(texted.length);
    // One batch for the four conversations; a page of its own only for what the batch's page could not hold.
    expect(rec.batches()).toHaveLength(1);
    expect(rec.pages()).toEqual([`GET /v1/conversations/${big!.dm}/messages?after=201&limit=200`]);
  });

  it('loads the latest page of every conversation on the first sync with one request', async () => {
    const { friends, reader: r } = await circle(3);
    for (const f of friends) for (let i = 1; i <= 5; i++) await post(f.client, f.dm, `${f.username}-${i}`);
    const rec = recordingFetch();
    const fresh = new ParleyClient({ baseUrl: suite.t.url, token: r.client.token, WebSocket: WebSocket as never, pageSize: 3, fetch: rec.fetch });
    clients.push(fresh);
    const announced: string[] = [];
    fresh.on('message', (e) => announced.push(e.clientId));
    await fresh.connect();
    for (const f of friends) {
      expect(texts(fresh, f.dm)).toEqual([3, 4, 5].map((i) => `${f.username}-${i}`));
      expect(fresh.store.hasOlder(f.dm)).toBe(true);
    }
    // History is not news.
    expect(announced).toEqual([]);
    expect(rec.batches()).toHaveLength(1);
    expect(rec.pages()).toEqual([]);
  });

  it('splits many conversations into batches of 10 to 100, six at most in flight', () => {
    expect([2, 10, 50, 60, 61, 100, 600, 601, 5000].map(batchSize)).toEqual([10, 10, 10, 10, 11, 17, 100, 100, 100]);
  });

  it('catches up page by page when the batch request fails', async () => {
    const { reader, friends, rec } = await circle(2, { refuse: (line) => line === 'POST /v1/sync/messages' });
    await reader.client.connect();
    reader.client.disconnect();
    for (const f of friends) for (let i = 0; i < 2; i++) await post(f.client, f.dm, `${f.username}-${i}`);
    rec.lines.length = 0;
    const synced = new Promise<void>((resolve) => reader.client.once('synced', resolve));
    await reader.client.connect();
    await synced;
    for (const f of friends) expect(texts(reader.client, f.dm)).toEqual([0, 1].map((i) => `${f.username}-${i}`));
    expect(rec.batches()).toHaveLength(1);
    expect(rec.pages().sort()).toEqual(friends.map((f) => `GET /v1/conversations/${f.dm}/messages?after=0&limit=200`).sort());
  });
});
