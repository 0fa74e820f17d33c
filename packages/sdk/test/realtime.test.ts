import { describe, expect, it } from 'vitest';
import type { Envelope, PlainContent } from '@parley/protocol';
import type { ParleyClient } from '../src/index.ts';
import { eventually, filteredWebSocket, signedUpClient, startRelay, suiteServer } from './support.ts';

/** Everything a client announced, in order. */
function record(client: ParleyClient) {
  const messages: { envelope: Envelope; content: PlainContent | null }[] = [];
  const states: string[] = [];
  client.on('message', (envelope, content) => messages.push({ envelope, content }));
  client.on('connection', (s) => states.push(s));
  return { messages, states, texts: () => messages.filter((m) => m.envelope.kind === 'message').map((m) => (m.content?.type === 'text' ? m.content.text : null)) };
}

const text = (t: string): PlainContent => ({ type: 'text', text: t });

// Socket behaviour does not depend on the database: SQLite covers it (restarts run on both, in restart.test.ts).
describe('SDK realtime [sqlite]', () => {
  const suite = suiteServer('sqlite');
  const { clients } = suite;

  async function pair() {
    const a = await signedUpClient(suite.t, 'rt_a');
    const b = await signedUpClient(suite.t, 'rt_b');
    clients.push(a.client, b.client);
    await a.client.connections.request(b.id);
    await b.client.connections.accept(a.id);
    return { a, b };
  }

  it('connects with an auth frame, delivers messages both ways, and tracks delivered and read', async () => {
    const { a, b } = await pair();
    const ra = record(a.client);
    const rb = record(b.client);
    await Promise.all([a.client.connect(), b.client.connect()]);
    expect(ra.states).toEqual(['connecting', 'online']);
    expect(a.client.connectionState).toBe('online');
    expect(a.client.userId).toBe(a.id);

    const dm = await a.client.openDirect(b.id);
    const entry = await a.client.sendText(dm.id, 'hello bob');
    expect(a.client.store.getMessages(dm.id).map((m) => [m.text, m.status])).toEqual([['hello bob', 'pending']]);
    const ack = await a.client.waitForAck(entry.clientId);
    expect(ack.seq).toBeGreaterThan(0);

    await eventually(() => rb.texts().includes('hello bob'), 'b to receive');
    const got = rb.messages.find((m) => m.envelope.clientId === entry.clientId)!;
    expect(got.envelope).toMatchObject({ id: ack.id, seq: ack.seq, senderId: a.id, conversationId: dm.id });
    expect(b.client.store.getConversation(dm.id)?.id).toBe(dm.id);
    expect(b.client.store.getMessages(dm.id).map((m) => m.text)).toEqual(['hello bob']);

    // B's client tells A it arrived; reading it turns A's tick to read.
    await eventually(() => a.client.store.getMessages(dm.id)[0]?.status === 'delivered', 'delivered status');
    await b.client.markRead(dm.id);
    await eventually(() => a.client.store.getMessages(dm.id)[0]?.status === 'read', 'read status');
    // The sender's own message never comes back as a second copy.
    expect(a.client.store.getMessages(dm.id)).toHaveLength(1);
    expect(a.client.store.getMessages(dm.id)[0]).toMatchObject({ id: ack.id, key: entry.clientId, senderId: a.id });

    await b.client.sendText(dm.id, 'hi ada');
    await eventually(() => ra.texts().includes('hi ada'), 'a to receive');
  });

  it('passes typing on, and reconnects by itself after the connection is cut, missing nothing', async () => {
    const relay = await startRelay(suite.t.url);
    const a = await signedUpClient(relay, 'cut_a');
    const b = await signedUpClient(suite.t, 'cut_b');
    clients.push(a.client, b.client);
    await a.client.connections.request(b.id);
    await b.client.connections.accept(a.id);
    const ra = record(a.client);
    await Promise.all([a.client.connect(), b.client.connect()]);
    const dm = await b.client.openDirect(a.id);

    const typing: unknown[] = [];
    a.client.on('typing', (e) => typing.push(e));
    await eventually(() => a.client.store.getConversation(dm.id), 'a to learn of the conversation');
    expect(b.client.typing(dm.id, true)).toBe(true);
    await eventually(() => typing.length > 0, 'typing');
    expect(typing[0]).toEqual({ conversationId: dm.id, userId: b.id, active: true });

    await b.client.sendText(dm.id, 'before');
    await eventually(() => ra.texts().includes('before'), 'first message');

    const synced = new Promise<void>((resolve) => a.client.once('synced', resolve));
    relay.pause();
    relay.cut();
    await eventually(() => ra.states.includes('connecting'), 'a to notice');
    // While A is away, B keeps writing: only the resync after the reconnect can bring these.
    for (const word of ['one', 'two', 'three']) await b.client.messages.post(dm.id, { clientId: `x-${word}`, kind: 'message', content: { encoding: 'plain', data: JSON.stringify(text(word)) } });
    relay.resume();
    await synced;
    await eventually(() => ra.texts().length === 4, 'the missed messages');
    expect(ra.texts()).toEqual(['before', 'one', 'two', 'three']);
    expect(a.client.connectionState).toBe('online');
    const seqs = ra.messages.map((m) => m.envelope.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(a.client.store.getMessages(dm.id).map((m) => m.text)).toEqual(['before', 'one', 'two', 'three']);
    a.client.disconnect();
    await relay.close();
  });

  it('notices a silent, half-open connection by its heartbeat and reconnects', async () => {
    const relay = await startRelay(suite.t.url);
    // HTTP keep-alive connections through the relay freeze too: a short timeout lets the resync retry on a fresh one.
    const a = await signedUpClient(relay, 'hb_a', { pingIntervalMs: 200, pongTimeoutMs: 300, httpTimeoutMs: 1500 });
    const b = await signedUpClient(suite.t, 'hb_b');
    clients.push(a.client, b.client);
    await a.client.connections.request(b.id);
    await b.client.connections.accept(a.id);
    const ra = record(a.client);
    await a.client.connect();
    const dm = await b.client.openDirect(a.id);
    relay.freeze();
    await b.client.messages.post(dm.id, { clientId: 'hb-1', kind: 'message', content: { encoding: 'plain', data: JSON.stringify(text('through the new connection')) } });
    await eventually(() => ra.texts().includes('through the new connection'), 'the message after the reconnect', 20_000);
    expect(ra.states.filter((s) => s === 'online').length).toBeGreaterThanOrEqual(2);
    a.client.disconnect();
    await relay.close();
  });

  it('fills a gap: a lost frame is fetched before what follows it is applied', async () => {
    let dropClientId: string | null = null;
    const Lossy = filteredWebSocket((frame) => (frame.type === 'message' && (frame.envelope as Envelope).clientId === dropClientId ? 'drop' : 'pass'));
    const a = await signedUpClient(suite.t, 'gap_a', { WebSocket: Lossy as never });
    const b = await signedUpClient(suite.t, 'gap_b');
    clients.push(a.client, b.client);
    await a.client.connections.request(b.id);
    await b.client.connections.accept(a.id);
    const ra = record(a.client);
    await a.client.connect();
    const dm = await b.client.openDirect(a.id);
    const post = (clientId: string, word: string) => b.client.messages.post(dm.id, { clientId, kind: 'message', content: { encoding: 'plain', data: JSON.stringify(text(word)) } });

    await post('g-1', 'first');
    await eventually(() => ra.texts().includes('first'), 'first');
    dropClientId = 'g-2';
    await post('g-2', 'lost on the wire');
    await post('g-3', 'third');
    await eventually(() => ra.texts().length === 3, 'the gap to be filled');
    expect(ra.texts()).toEqual(['first', 'lost on the wire', 'third']);
    expect(a.client.store.getMessages(dm.id).map((m) => m.text)).toEqual(['first', 'lost on the wire', 'third']);
  });

  it('retries a failed gap fill by itself', async () => {
    let dropClientId: string | null = null;
    let failNextHistory = false;
    const Lossy = filteredWebSocket((frame) => (frame.type === 'message' && (frame.envelope as Envelope).clientId === dropClientId ? 'drop' : 'pass'));
    // The network fails the first fetch of the missing range.
    const flaky: typeof fetch = async (input, init) => {
      if (failNextHistory && String(input).includes('/messages?after=')) {
        failNextHistory = false;
        throw new TypeError('fetch failed');
      }
      return fetch(input, init);
    };
    const a = await signedUpClient(suite.t, 'gapr_a', { WebSocket: Lossy as never, fetch: flaky as never });
    const b = await signedUpClient(suite.t, 'gapr_b');
    clients.push(a.client, b.client);
    await a.client.connections.request(b.id);
    await b.client.connections.accept(a.id);
    const ra = record(a.client);
    const errors: string[] = [];
    a.client.on('error', (e) => errors.push(e.code));
    await a.client.connect();
    const dm = await b.client.openDirect(a.id);
    const post = (clientId: string, word: string) => b.client.messages.post(dm.id, { clientId, kind: 'message', content: { encoding: 'plain', data: JSON.stringify(text(word)) } });
    await post('gr-1', 'first');
    await eventually(() => ra.texts().includes('first'), 'first');
    dropClientId = 'gr-2';
    failNextHistory = true;
    await post('gr-2', 'lost');
    await post('gr-3', 'held behind the gap');
    await eventually(() => ra.texts().length === 3, 'the retried fill');
    expect(ra.texts()).toEqual(['first', 'lost', 'held behind the gap']);
    expect(errors).toContain('network_error');
  });

  it('retries a send whose connection died before the ack with the same clientId: stored once', async () => {
    let killed = false;
    const Crashy = filteredWebSocket((frame, ws) => {
      if (frame.type === 'ack' && !killed) {
        killed = true;
        // The server committed the message; its ack never reaches us.
        ws.terminate();
        return 'drop';
      }
      return 'pass';
    });
    const a = await signedUpClient(suite.t, 'dup_a', { WebSocket: Crashy as never });
    const b = await signedUpClient(suite.t, 'dup_b');
    clients.push(a.client, b.client);
    await a.client.connections.request(b.id);
    await b.client.connections.accept(a.id);
    const ra = record(a.client);
    await a.client.connect();
    const dm = await a.client.openDirect(b.id);
    const entry = await a.client.sendText(dm.id, 'exactly once');
    const ack = await a.client.waitForAck(entry.clientId);
    expect(killed).toBe(true);
    expect(ra.states.filter((s) => s === 'online').length).toBeGreaterThanOrEqual(1);

    const history = await b.client.messages.history(dm.id, { after: 0 });
    expect(history.filter((m) => m.clientId === entry.clientId)).toEqual([expect.objectContaining({ id: ack.id, seq: ack.seq })]);
    await eventually(() => a.client.connectionState === 'online', 'reconnect');
    await eventually(() => a.client.store.getMessages(dm.id).every((m) => m.status !== 'pending'), 'sent');
    expect(a.client.store.getMessages(dm.id).filter((m) => m.text === 'exactly once')).toHaveLength(1);
  });

  it('fails a send the server refuses for good, and retry() reuses its clientId', async () => {
    const { a } = await pair();
    await a.client.connect();
    const entry = await a.client.sendText('no-such-conversation', 'into the void');
    await expect(a.client.waitForAck(entry.clientId)).rejects.toMatchObject({ code: 'not_found' });
    const failed = a.client.store.getMessages('no-such-conversation');
    expect(failed).toEqual([expect.objectContaining({ clientId: entry.clientId, status: 'failed', error: expect.objectContaining({ code: 'not_found' }) })]);
    expect(a.client.outbox.get(entry.clientId)).toMatchObject({ state: 'failed', attempts: 1 });
    await a.client.retry(entry.clientId);
    await expect(a.client.waitForAck(entry.clientId)).rejects.toMatchObject({ code: 'not_found' });
    expect(a.client.outbox.get(entry.clientId)).toMatchObject({ clientId: entry.clientId, state: 'failed', attempts: 1 });
  });

  it('sends over HTTP while offline, and keeps the order of queued sends', async () => {
    const { a, b } = await pair();
    const dm = await a.client.openDirect(b.id);
    const entries = [];
    for (const word of ['w1', 'w2', 'w3', 'w4']) entries.push(await a.client.sendText(dm.id, word));
    const acks = await Promise.all(entries.map((e) => a.client.waitForAck(e.clientId)));
    expect(acks.map((x) => x.seq)).toEqual([...acks.map((x) => x.seq)].sort((x, y) => x - y));
    const history = await b.client.messages.history(dm.id, { after: 0 });
    expect(history.filter((m) => m.kind === 'message').map((m) => JSON.parse(m.content!.data).text)).toEqual(['w1', 'w2', 'w3', 'w4']);
  });

  it('keeps a message written offline pending past maxSendAttempts, and sends it once back online', async () => {
    const relay = await startRelay(suite.t.url);
    const a = await signedUpClient(relay, 'off_a', { maxSendAttempts: 2 });
    const b = await signedUpClient(suite.t, 'off_b');
    clients.push(a.client);
    await a.client.connections.request(b.id);
    await b.client.connections.accept(a.id);
    await a.client.connect();
    const dm = await a.client.openDirect(b.id);
    relay.pause();
    relay.cut();
    await eventually(() => a.client.connectionState !== 'online', 'offline');
    const entry = await a.client.sendText(dm.id, 'written on the train');
    let failures = 0;
    a.client.on('outbox', (e) => {
      if (e.clientId === entry.clientId && e.error) failures++;
    });
    await eventually(() => failures >= 3, 'several failed tries');
    expect(a.client.outbox.get(entry.clientId)).toMatchObject({ state: 'pending', attempts: 0 });
    relay.resume();
    const ack = await a.client.waitForAck(entry.clientId);
    const history = await b.client.messages.history(dm.id, { after: 0 });
    expect(history.filter((m) => m.clientId === entry.clientId)).toEqual([expect.objectContaining({ id: ack.id })]);
    a.client.disconnect();
    await relay.close();
  });

  it('keeps unsent messages in the pluggable outbox persistence across a reload, and sends them once', async () => {
    const { MemoryOutboxPersistence, ParleyClient } = await import('../src/index.ts');
    const { WebSocket } = await import('ws');
    const { a, b } = await pair();
    const dm = await a.client.openDirect(b.id);
    const relay = await startRelay(suite.t.url);
    relay.pause();
    const persistence = new MemoryOutboxPersistence();
    // The first "tab" cannot reach the server: the send stays pending in its outbox.
    const before = new ParleyClient({ baseUrl: relay.url, token: a.client.token, outbox: persistence });
    const entry = await before.sendText(dm.id, 'survives a reload');
    await eventually(async () => (await persistence.load()).some((e) => e.clientId === entry.clientId && e.error?.code === 'network_error' && e.state === 'pending'), 'a failed attempt');
    before.disconnect();

    const after = new ParleyClient({ baseUrl: suite.t.url, token: a.client.token, outbox: persistence, WebSocket: WebSocket as never });
    clients.push(after);
    await after.connect();
    const ack = await after.waitForAck(entry.clientId);
    await eventually(() => after.store.getMessages(dm.id).some((m) => m.id === ack.id && m.status !== 'pending'), 'the store');
    expect(await persistence.load()).toEqual([]);
    const history = await b.client.messages.history(dm.id, { after: 0 });
    expect(history.filter((m) => m.clientId === entry.clientId)).toHaveLength(1);
    await relay.close();
  });

  it('folds edits, reactions (toggled), unsends and system events into the store', async () => {
    const { a, b } = await pair();
    const c = await signedUpClient(suite.t, 'fold_c');
    clients.push(c.client);
    await a.client.connections.request(c.id);
    await c.client.connections.accept(a.id);
    await Promise.all([a.client.connect(), b.client.connect(), c.client.connect()]);
    const group = await a.client.conversations.create({ type: 'group', title: 'Fold', memberIds: [b.id, c.id] });

    const m1 = await a.client.waitForAck((await a.client.sendText(group.id, 'helo')).clientId);
    const m2 = await a.client.waitForAck((await a.client.sendText(group.id, 'to be unsent')).clientId);
    await eventually(() => b.client.store.getMessages(group.id).some((m) => m.id === m2.id), 'b has both');

    await a.client.waitForAck((await a.client.edit(group.id, m1.id, 'hello')).clientId);
    await a.client.waitForAck((await a.client.edit(group.id, m1.id, 'hello!')).clientId);
    // Only the author may edit: the server refuses B's attempt for good (and clients would ignore it anyway).
    await expect(b.client.waitForAck((await b.client.edit(group.id, m1.id, 'hacked')).clientId)).rejects.toMatchObject({ status: 403 });
    await b.client.waitForAck((await b.client.react(group.id, m1.id, '👍')).clientId);
    await c.client.waitForAck((await c.client.react(group.id, m1.id, '👍')).clientId);
    await c.client.waitForAck((await c.client.react(group.id, m1.id, '🎉')).clientId);
    await eventually(() => c.client.store.getMessages(group.id).find((m) => m.id === m1.id)?.reactions.some((r) => r.emoji === '🎉'), 'c sees its reaction');
    // Toggle: C reacting 🎉 again takes it back.
    await c.client.waitForAck((await c.client.react(group.id, m1.id, '🎉')).clientId);
    await a.client.unsend(group.id, m2.id);
    await a.client.conversations.update(group.id, { title: 'Folded' });

    const folded = await eventually(() => {
      const view = b.client.store.getMessages(group.id);
      const one = view.find((m) => m.id === m1.id);
      const two = view.find((m) => m.id === m2.id);
      const renamed = view.some((m) => m.kind === 'system' && m.content?.type === 'system' && m.content.event === 'title_changed');
      return one?.text === 'hello!' && one.reactions.length === 1 && two?.deleted && renamed ? view : null;
    }, 'b to fold everything');
    const one = folded.find((m) => m.id === m1.id)!;
    expect(one).toMatchObject({ text: 'hello!', edited: true, deleted: false });
    expect(one.history.map((h) => h.text)).toEqual(['helo', 'hello']);
    expect(one.reactions).toEqual([{ emoji: '👍', count: 2, userIds: expect.arrayContaining([b.id, c.id]), mine: true }]);
    expect(folded.find((m) => m.id === m2.id)).toMatchObject({ deleted: true, text: null, content: null });
    // Edits, reactions and deletes fold into their targets: the timeline shows messages and system events only.
    expect(folded.every((m) => m.kind === 'message' || m.kind === 'system')).toBe(true);
    expect(folded.filter((m) => m.kind === 'message').map((m) => m.id)).toEqual([m1.id, m2.id]);
    expect(folded.at(-1)).toMatchObject({ kind: 'system', senderId: a.id, content: { type: 'system', event: 'title_changed', actorId: a.id, data: { title: 'Folded' } } });

    // A fresh client of A folds the same from history alone.
    const { ParleyClient } = await import('../src/index.ts');
    const { WebSocket } = await import('ws');
    const again = new ParleyClient({ baseUrl: suite.t.url, token: a.client.token, WebSocket: WebSocket as never });
    clients.push(again);
    await again.connect();
    const fresh = again.store.getMessages(group.id).find((m) => m.id === m1.id)!;
    expect(fresh).toMatchObject({ text: 'hello!', edited: true, status: expect.any(String) });
    expect(fresh.reactions.map((r) => [r.emoji, r.count, r.mine])).toEqual([['👍', 2, false]]);
    // What a live client built from events equals what a fresh one builds from history (verify_action style).
    const shape = (views: ReturnType<ParleyClient['store']['getMessages']>) =>
      views.map((m) => ({ id: m.id, seq: m.seq, kind: m.kind, text: m.text, content: m.content, edited: m.edited, history: m.history.map((h) => h.text), deleted: m.deleted, reactions: m.reactions.map((r) => [r.emoji, [...r.userIds].sort()]) }));
    const same = (c: ParleyClient) => JSON.stringify(shape(c.store.getMessages(group.id))) === JSON.stringify(shape(again.store.getMessages(group.id)));
    await eventually(() => same(a.client) && same(b.client), 'the live clients to match a fresh one');
    expect(shape(a.client.store.getMessages(group.id))).toEqual(shape(again.store.getMessages(group.id)));
    expect(shape(b.client.store.getMessages(group.id))).toEqual(shape(again.store.getMessages(group.id)));
  });

  it('shows payloads it cannot read as unreadable, and works unchanged with another content codec', async () => {
    const { a, b } = await pair();
    const dm = await a.client.openDirect(b.id);
    await b.client.connect();
    await a.client.messages.post(dm.id, { clientId: 'garbage', kind: 'message', content: { encoding: 'plain', data: '{not json' } });
    await a.client.messages.post(dm.id, { clientId: 'cipher', kind: 'message', content: { encoding: 'mls', data: 'AAECAwQ=' } });
    const views = await eventually(() => (b.client.store.getMessages(dm.id).length === 2 ? b.client.store.getMessages(dm.id) : null), 'both');
    expect(views.map((m) => [m.clientId, m.unreadable, m.text])).toEqual([
      ['garbage', true, null],
      ['cipher', true, null],
    ]);

    // A stand-in for end-to-end encryption: opaque base64 payloads, same client code otherwise.
    const { ParleyClient } = await import('../src/index.ts');
    const { WebSocket } = await import('ws');
    const opaque = {
      encode: async (_c: string, content: PlainContent) => ({ encoding: 'mls' as const, data: Buffer.from(JSON.stringify(content)).toString('base64') }),
      decode: async (_c: string, content: { encoding: string; data: string }) => {
        if (content.encoding !== 'mls') throw new Error('not ours');
        return JSON.parse(Buffer.from(content.data, 'base64').toString()) as PlainContent;
      },
    };
    const a2 = new ParleyClient({ baseUrl: suite.t.url, token: a.client.token, WebSocket: WebSocket as never, codec: opaque });
    const b2 = new ParleyClient({ baseUrl: suite.t.url, token: b.client.token, WebSocket: WebSocket as never, codec: opaque });
    clients.push(a2, b2);
    await Promise.all([a2.connect(), b2.connect()]);
    const sent = await a2.waitForAck((await a2.sendText(dm.id, 'sealed')).clientId);
    const m = await eventually(() => b2.store.getMessages(dm.id).find((x) => x.id === sent.id), 'b2 to read it');
    expect(m).toMatchObject({ text: 'sealed', unreadable: false });
    const stored = (await b.client.messages.history(dm.id, { after: 0 })).find((x) => x.id === sent.id)!;
    expect(stored.content?.encoding).toBe('mls');
    expect(stored.content?.data).not.toContain('sealed');
    await a2.waitForAck((await a2.react(dm.id, sent.id, '🔒')).clientId);
    await eventually(() => b2.store.getMessages(dm.id).find((x) => x.id === sent.id)?.reactions.length === 1, 'the reaction');
  });

  it('drops a conversation I was removed from, live and through sync', async () => {
    const { a, b } = await pair();
    const c = await signedUpClient(suite.t, 'rm_c');
    clients.push(c.client);
    await a.client.connections.request(c.id);
    await c.client.connections.accept(a.id);
    const g1 = await a.client.conversations.create({ type: 'group', title: 'One', memberIds: [b.id, c.id] });
    const g2 = await a.client.conversations.create({ type: 'group', title: 'Two', memberIds: [b.id, c.id] });
    const removed: string[] = [];
    c.client.on('conversation.removed', (id) => removed.push(id));
    await c.client.connect();
    expect(c.client.store.getSnapshot().conversations.map((x) => x.id)).toEqual(expect.arrayContaining([g1.id, g2.id]));

    await a.client.members.remove(g1.id, c.id);
    await eventually(() => removed.includes(g1.id), 'the live removal');
    expect(c.client.store.getConversation(g1.id)).toBeUndefined();

    c.client.disconnect();
    await a.client.members.remove(g2.id, c.id);
    await c.client.connect();
    await eventually(() => !c.client.store.getConversation(g2.id), 'the removal through sync');
    expect(removed).toContain(g2.id);
  });

  it('hides messages from people I blocked in groups, and shows them again after unblocking', async () => {
    const { a, b } = await pair();
    const c = await signedUpClient(suite.t, 'blk_c');
    clients.push(c.client);
    await a.client.connections.request(c.id);
    await c.client.connections.accept(a.id);
    const group = await a.client.conversations.create({ type: 'group', title: 'Blocks', memberIds: [b.id, c.id] });
    await c.client.blocks.add(b.id);
    await c.client.connect();
    const fromB = await b.client.waitForAck((await b.client.sendText(group.id, 'from b')).clientId);
    const fromA = await a.client.waitForAck((await a.client.sendText(group.id, 'from a')).clientId);
    await eventually(() => c.client.store.getMessages(group.id).some((m) => m.id === fromA.id), 'c to receive');
    expect(c.client.store.getMessages(group.id).some((m) => m.id === fromB.id)).toBe(false);
    expect(c.client.store.getSnapshot().blocked.has(b.id)).toBe(true);
    await c.client.blocks.remove(b.id);
    expect(c.client.store.getMessages(group.id).some((m) => m.id === fromB.id)).toBe(true);
  });

  it('notifies subscribers with stable snapshots (useSyncExternalStore-friendly)', async () => {
    const { a, b } = await pair();
    await a.client.connect();
    const dm = await a.client.openDirect(b.id);
    let calls = 0;
    const off = a.client.store.subscribe(() => calls++);
    const before = a.client.store.getSnapshot();
    expect(a.client.store.getSnapshot()).toBe(before);
    const messagesBefore = a.client.store.getMessages(dm.id);
    expect(a.client.store.getMessages(dm.id)).toBe(messagesBefore);
    await a.client.waitForAck((await a.client.sendText(dm.id, 'ping')).clientId);
    await eventually(() => calls > 0, 'a notification');
    expect(a.client.store.getMessages(dm.id)).not.toBe(messagesBefore);
    expect(a.client.store.getMessages(dm.id)).toBe(a.client.store.getMessages(dm.id));
    off();
  });

  it('goes offline for good when the session is revoked elsewhere', async () => {
    const { a } = await pair();
    const { ParleyClient } = await import('../src/index.ts');
    const { WebSocket } = await import('ws');
    const phone = new ParleyClient({ baseUrl: suite.t.url, WebSocket: WebSocket as never, reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
    clients.push(phone);
    await phone.accounts.signIn({ username: a.username, password: 'correct horse battery', deviceName: 'phone' });
    const revoked = new Promise<void>((resolve) => phone.on('session.revoked', () => resolve()));
    await phone.connect();
    await a.client.sessions.revoke(phone.sessionId!);
    await revoked;
    await eventually(() => phone.connectionState === 'offline', 'offline');
    await new Promise((r) => setTimeout(r, 300));
    expect(phone.connectionState).toBe('offline');
    await expect(phone.connect()).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('loads the latest page on first sync and older pages on demand', async () => {
    const { a, b } = await pair();
    const dm = await a.client.openDirect(b.id);
    for (let i = 1; i <= 7; i++) await a.client.messages.post(dm.id, { clientId: `p-${i}`, kind: 'message', content: { encoding: 'plain', data: JSON.stringify(text(`m${i}`)) } });
    const { ParleyClient } = await import('../src/index.ts');
    const { WebSocket } = await import('ws');
    const reader = new ParleyClient({ baseUrl: suite.t.url, token: b.client.token, WebSocket: WebSocket as never, pageSize: 3 });
    clients.push(reader);
    const announced: string[] = [];
    reader.on('message', (e) => announced.push(e.clientId));
    await reader.connect();
    const texts = () => reader.store.getMessages(dm.id).map((m) => m.text);
    expect(texts()).toEqual(['m5', 'm6', 'm7']);
    // History is not news.
    expect(announced).toEqual([]);
    expect(reader.store.hasOlder(dm.id)).toBe(true);
    await reader.loadOlder(dm.id);
    expect(texts()).toEqual(['m2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    await reader.loadOlder(dm.id);
    expect(texts()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    expect(reader.store.hasOlder(dm.id)).toBe(false);
    expect(announced).toEqual([]);
  });

  it('signs out: the session is revoked, the socket closed and the local data forgotten', async () => {
    const { a, b } = await pair();
    const { ApiError, ParleyApi } = await import('../src/index.ts');
    await a.client.connect();
    const dm = await a.client.openDirect(b.id);
    await a.client.waitForAck((await a.client.sendText(dm.id, 'bye')).clientId);
    const token = a.client.token!;
    await a.client.signOut();
    expect(a.client.connectionState).toBe('offline');
    expect(a.client.token).toBeNull();
    expect(a.client.store.getSnapshot().conversations).toEqual([]);
    expect(a.client.store.getMessages(dm.id)).toEqual([]);
    await expect(new ParleyApi({ baseUrl: suite.t.url, token }).me.get()).rejects.toBeInstanceOf(ApiError);
  });

  it('refuses a bad token on connect with ApiError unauthorized', async () => {
    const { ParleyClient } = await import('../src/index.ts');
    const { WebSocket } = await import('ws');
    const client = new ParleyClient({ baseUrl: suite.t.url, token: 'not-a-real-token', WebSocket: WebSocket as never });
    await expect(client.connect()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(client.connectionState).toBe('offline');
  });
});
