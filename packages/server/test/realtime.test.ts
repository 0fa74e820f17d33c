import type { Socket } from 'node:net';
import { LIMITS, WS_CLOSE } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testConfig } from '../src/config/config.ts';
import { FANOUT_THRESHOLD } from '../src/modules/realtime/index.ts';
import { MemoryRateLimiter, rateRules } from '../src/modules/safety/index.ts';
import { startTestServer, type TestServer } from './harness.ts';
import { busVariants, WsClient } from './realtime-client.ts';

const PASSWORD = 'correct horse battery';
const text = (s: string) => ({ encoding: 'plain', data: JSON.stringify({ text: s }) });
let n = 0;
const clientId = () => `c${Date.now()}-${++n}`;

for (const { dialect, bus, config } of await busVariants()) {
  describe(`WebSocket gateway [${dialect}, ${bus} bus]`, () => {
    let t: TestServer;
    const open: WsClient[] = [];
    const connect = async (token: string) => {
      const r = await WsClient.connect(t.wsUrl, token);
      open.push(r.client);
      return r;
    };
    const raw = async (url = t.wsUrl, options = {}) => {
      const c = new WsClient(url, options);
      open.push(c);
      await c.open();
      return c;
    };
    /** Two connected users with a direct conversation. */
    const pair = async () => {
      const a = await t.api.signUp('alice');
      const b = await t.api.signUp('bob');
      expect((await t.api.post(`/v1/connections/${b.id}`, {}, a.token)).status).toBeLessThan(300);
      expect((await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token)).status).toBeLessThan(300);
      const conv = await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
      expect(conv.status).toBe(201);
      return { a, b, conversationId: conv.body.id as string };
    };
    const secondDevice = async (username: string) => {
      const res = await t.api.post('/v1/sessions', { username, password: PASSWORD, deviceName: 'second' });
      expect(res.status).toBe(201);
      return { token: res.body.session.token as string, sessionId: res.body.session.id as string };
    };

    beforeAll(async () => {
      t = await startTestServer(dialect, config);
    });
    afterAll(async () => {
      for (const c of open) c.close();
      await t?.close();
    });

    describe('auth', () => {
      it('authenticates by the first frame: ready with session, user and a working sync cursor', async () => {
        const u = await t.api.signUp('frame');
        const { client, ready } = await connect(u.token);
        expect(ready).toMatchObject({ type: 'ready', sessionId: u.sessionId, userId: u.id });
        expect(typeof ready.cursor).toBe('string');
        const sync = await t.api.get(`/v1/sync?cursor=${encodeURIComponent(ready.cursor)}`, u.token);
        expect(sync.status).toBe(200);
        await client.sync();
      });

      it('authenticates by the Authorization header: ready without an auth frame', async () => {
        const u = await t.api.signUp('header');
        const client = await raw(t.wsUrl, { headers: { authorization: `Bearer ${u.token}` } });
        const ready = await client.next('ready');
        expect(ready).toMatchObject({ sessionId: u.sessionId, userId: u.id });
        client.send({ type: 'auth', token: u.token });
        expect((await client.next('error')).error.code).toBe('invalid_request');
        await client.sync();
      });

      it('answers a bad header token as a bad auth frame: error unauthorized, then 4401', async () => {
        for (const authorization of ['Bearer not-a-token', 'Basic dXNlcjpwYXNz', 'Bearer']) {
          const client = await raw(t.wsUrl, { headers: { authorization } });
          expect((await client.next('error')).error.code, authorization).toBe('unauthorized');
          expect((await client.waitClosed()).code, authorization).toBe(WS_CLOSE.unauthorized);
          expect(client.frames.find((f) => f.type === 'ready')).toBeUndefined();
        }
      });

      it('never takes a token from the URL', async () => {
        const u = await t.api.signUp('url');
        const client = await raw(`${t.wsUrl}?token=${u.token}`);
        client.send({ type: 'ping' });
        expect((await client.next('error')).error.code).toBe('unauthorized');
        expect((await client.waitClosed()).code).toBe(WS_CLOSE.unauthorized);
        expect(client.frames.find((f) => f.type === 'ready' || f.type === 'pong')).toBeUndefined();
      });

      it('closes with 4401 on a bad token, and on any other first frame', async () => {
        const bad = await raw();
        bad.send({ type: 'auth', token: 'nope' });
        expect((await bad.next('error')).error.code).toBe('unauthorized');
        expect((await bad.waitClosed()).code).toBe(WS_CLOSE.unauthorized);

        for (const first of ['not json', JSON.stringify({ type: 'send', reqId: 1 }), JSON.stringify({ type: 'auth' })]) {
          const c = await raw();
          c.send(first);
          expect((await c.waitClosed()).code, first).toBe(WS_CLOSE.unauthorized);
        }
      });

      it('queues frames sent right behind the auth frame', async () => {
        const u = await t.api.signUp('pipelined');
        const c = await raw();
        c.send({ type: 'auth', token: u.token });
        c.send({ type: 'ping' });
        await c.next('ready');
        await c.next('pong');
      });

      it('closes a socket that piles up frames behind an auth still in progress (1008)', async () => {
        const u = await t.api.signUp('piler');
        const c = await raw();
        // One write: the frames reach the server together, while the auth is still in progress
        // (however fast the session lookup has become), so the test does not race it.
        const socket = (c.ws as unknown as { _socket: Socket })._socket;
        socket.cork();
        c.send({ type: 'auth', token: u.token });
        for (let i = 0; i < 500; i++) c.send({ type: 'ping' });
        socket.uncork();
        expect((await c.waitClosed()).code).toBe(1008);
      });

      it('a revoked session gets session.revoked, is closed at once, and its token cannot come back', async () => {
        const u = await t.api.signUp('revoked');
        const other = await secondDevice(u.username);
        const { client } = await connect(other.token);
        const { client: keeper } = await connect(u.token);
        expect((await t.api.delete(`/v1/sessions/${other.sessionId}`, u.token)).status).toBe(204);
        await client.next('session.revoked');
        expect((await client.waitClosed()).code).toBe(WS_CLOSE.revoked);
        // Only that session's sockets close.
        await keeper.sync();
        const again = await raw();
        again.send({ type: 'auth', token: other.token });
        expect((await again.waitClosed()).code).toBe(WS_CLOSE.unauthorized);
      });

      it('a password change closes the sockets of every other session', async () => {
        const u = await t.api.signUp('pwchange');
        const other = await secondDevice(u.username);
        const { client: mine } = await connect(u.token);
        const { client: theirs } = await connect(other.token);
        const res = await t.api.put('/v1/me/password', { currentPassword: PASSWORD, newPassword: 'another good password' }, u.token);
        expect(res.status).toBe(204);
        await theirs.next('session.revoked');
        expect((await theirs.waitClosed()).code).toBe(WS_CLOSE.revoked);
        await mine.sync();
      });
    });

    describe('frames', () => {
      it('answers ping with pong', async () => {
        const u = await t.api.signUp('ping');
        const { client } = await connect(u.token);
        client.send({ type: 'ping' });
        expect(await client.next('pong')).toEqual({ type: 'pong' });
      });

      it('answers unparseable, unknown and invalid frames with error, keeping reqId, and stays open', async () => {
        const u = await t.api.signUp('badframes');
        const { client } = await connect(u.token);
        const cases: [unknown, string | number | undefined][] = [
          ['{not json', undefined],
          ['42', undefined],
          ['null', undefined],
          ['[]', undefined],
          [{ noType: true }, undefined],
          [{ type: 'dance', reqId: 'r1' }, 'r1'],
          [{ type: 'send', reqId: 7, conversationId: 'x' }, 7],
          [{ type: 'send', reqId: 'r2', conversationId: 'has spaces', clientId: 'c', kind: 'message', content: text('hi') }, 'r2'],
          [{ type: 'send', reqId: 'r3', conversationId: 'abc', clientId: 'c', kind: 'system', content: text('hi') }, 'r3'],
          [{ type: 'typing', conversationId: 'abc', active: 'yes' }, undefined],
          [{ type: 'read', conversationId: 'abc', seq: -1 }, undefined],
        ];
        for (const [frame, reqId] of cases) {
          client.send(frame);
          const error = await client.next('error');
          expect(error.error.code, JSON.stringify(frame)).toBe('invalid_request');
          expect(typeof error.error.message).toBe('string');
          if (reqId === undefined) expect(error.reqId).toBeUndefined();
          else expect(error.reqId).toBe(reqId);
        }
        client.send({ type: 'dance' });
        expect((await client.next('error')).error.message).toMatch(/unknown frame type/);
        client.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
        expect((await client.next('error')).error.code).toBe('invalid_request');
        await client.sync();
        expect(client.closed).toBeNull();
      });

      it('refuses a frame over the frame limit with too_large and stays open; one over the hard cap is closed with 1009', async () => {
        const u = await t.api.signUp('big');
        const { client } = await connect(u.token);
        client.send({ type: 'send', reqId: 'big', conversationId: 'abc', clientId: 'c', kind: 'message', content: { encoding: 'plain', data: 'x'.repeat(LIMITS.wsFrameBytes) } });
        const error = await client.next('error');
        expect(error.error.code).toBe('too_large');
        await client.sync();
        client.send('x'.repeat(2 * 1024 * 1024));
        expect((await client.waitClosed()).code).toBe(1009);
      });

      it('sends over the socket: ack to the sender, the message to the other member and the sender’s other device, no echo', async () => {
        const { a, b, conversationId } = await pair();
        const { client: aWs } = await connect(a.token);
        const a2 = await secondDevice(a.username);
        const { client: a2Ws } = await connect(a2.token);
        const { client: bWs } = await connect(b.token);
        const cid = clientId();
        aWs.send({ type: 'send', reqId: 'r-1', conversationId, clientId: cid, kind: 'message', content: text('hello') });
        const ack = await aWs.next('ack');
        expect(ack).toMatchObject({ type: 'ack', reqId: 'r-1', seq: expect.any(Number), id: expect.any(String), createdAt: expect.any(String) });
        const atB = await bWs.next('message');
        expect(atB.envelope).toMatchObject({ id: ack.id, seq: ack.seq, conversationId, senderId: a.id, clientId: cid, kind: 'message', content: text('hello') });
        expect((await a2Ws.next('message')).envelope.id).toBe(ack.id);
        await aWs.sync();
        await aWs.none('message');

        // A retried clientId is the same message: the same ack, nothing new delivered.
        aWs.send({ type: 'send', reqId: 'r-2', conversationId, clientId: cid, kind: 'message', content: text('hello') });
        const again = await aWs.next('ack');
        expect(again).toMatchObject({ reqId: 'r-2', id: ack.id, seq: ack.seq });
        await bWs.sync();
        await bWs.none('message', (f) => f.envelope.id !== ack.id);
      });

      it('keeps a socket’s sends into one conversation in order', async () => {
        const { a, conversationId } = await pair();
        const { client } = await connect(a.token);
        for (let i = 0; i < 20; i++) client.send({ type: 'send', reqId: i, conversationId, clientId: clientId(), kind: 'message', content: text(`m${i}`) });
        const acks = [];
        for (let i = 0; i < 20; i++) acks.push(await client.next('ack', (f) => f.reqId === i));
        const seqs = acks.map((x) => x.seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      });

      it('answers a send the server refuses with error {reqId, error}', async () => {
        const { conversationId } = await pair();
        const stranger = await t.api.signUp('stranger');
        const { client } = await connect(stranger.token);
        client.send({ type: 'send', reqId: 'no', conversationId, clientId: clientId(), kind: 'message', content: text('let me in') });
        const error = await client.next('error');
        expect(error.reqId).toBe('no');
        expect(['not_found', 'not_a_member']).toContain(error.error.code);
        client.send({ type: 'send', reqId: 'huge', conversationId, clientId: clientId(), kind: 'message', content: { encoding: 'plain', data: 'y'.repeat(LIMITS.payloadBytes + 1) } });
        const tooBig = await client.next('error');
        expect(tooBig.reqId).toBe('huge');
        expect(['too_large', 'invalid_request']).toContain(tooBig.error.code);
        await client.sync();
      });

      it('fans a big group’s message out once per process: every connected member and the sender’s other device, no echo', async () => {
        const owner = await t.api.signUp('big_owner');
        const members = [];
        for (let i = 0; i < FANOUT_THRESHOLD + 3; i++) {
          const m = await t.api.signUp(`big${i}`);
          await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, m.token);
          members.push(m);
        }
        const group = await t.api.post('/v1/conversations', { type: 'group', title: 'Crowd', memberIds: members.map((m) => m.id) }, owner.token);
        expect(group.status).toBe(201);
        expect(group.body.notAdded).toEqual([]);
        const conversationId = group.body.id as string;
        const { client: ownerWs } = await connect(owner.token);
        const { client: ownerOther } = await connect((await secondDevice(owner.username)).token);
        const listeners = [];
        for (const m of [members[0]!, members[7]!, members.at(-1)!]) listeners.push((await connect(m.token)).client);
        ownerWs.send({ type: 'send', reqId: 'crowd', conversationId, clientId: clientId(), kind: 'message', content: text('hello all') });
        const ack = await ownerWs.next('ack');
        for (const ws of [ownerOther, ...listeners]) expect((await ws.next('message')).envelope).toMatchObject({ id: ack.id, senderId: owner.id });
        await ownerWs.sync();
        await ownerWs.none('message');
        // Typing to a crowd takes the same path.
        listeners[0]!.send({ type: 'typing', conversationId, active: true });
        expect(await listeners[1]!.next('typing')).toMatchObject({ conversationId, userId: members[0]!.id, active: true });
        expect(await ownerWs.next('typing')).toMatchObject({ userId: members[0]!.id });
      });

      it.runIf(bus === 'memory')('serializes a message once for every socket it reaches in this process, small groups and big', async () => {
        const owner = await t.api.signUp('once_owner');
        for (const size of [3, FANOUT_THRESHOLD + 1]) {
          const members = [];
          for (let i = 0; i < size; i++) {
            const m = await t.api.signUp(`once${size}_${i}`);
            await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, m.token);
            members.push(m);
          }
          const group = await t.api.post('/v1/conversations', { type: 'group', title: `Once ${size}`, memberIds: members.map((m) => m.id) }, owner.token);
          const conversationId = group.body.id as string;
          const { client: ownerWs } = await connect(owner.token);
          const listeners = [];
          for (const m of members) listeners.push((await connect(m.token)).client);
          const stringify = vi.spyOn(JSON, 'stringify');
          try {
            ownerWs.send({ type: 'send', reqId: `once${size}`, conversationId, clientId: clientId(), kind: 'message', content: text(`to ${size}`) });
            const ack = await ownerWs.next('ack');
            for (const ws of listeners) expect((await ws.next('message')).envelope).toMatchObject({ id: ack.id });
            const frames = stringify.mock.results.filter((r) => typeof r.value === 'string' && r.value.startsWith('{"type":"message"') && r.value.includes(ack.id));
            expect(frames).toHaveLength(1);
          } finally {
            stringify.mockRestore();
          }
        }
      });

      it('delivers a message sent over HTTP to both members and every device, the sender’s included', async () => {
        const { a, b, conversationId } = await pair();
        const { client: aWs } = await connect(a.token);
        const a2 = await secondDevice(a.username);
        const { client: a2Ws } = await connect(a2.token);
        const { client: bWs } = await connect(b.token);
        const sent = await t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: clientId(), kind: 'message', content: text('over http') }, a.token);
        expect(sent.status).toBe(201);
        for (const ws of [aWs, a2Ws, bWs]) {
          const m = await ws.next('message');
          expect(m.envelope).toMatchObject({ id: sent.body.id, seq: sent.body.seq, senderId: a.id });
        }
      });

      it('marks read and delivered over the socket; the other member gets the marker', async () => {
        const { a, b, conversationId } = await pair();
        const { client: aWs } = await connect(a.token);
        const { client: bWs } = await connect(b.token);
        const sent = await t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: clientId(), kind: 'message', content: text('read me') }, a.token);
        await bWs.next('message');
        bWs.send({ type: 'delivered', conversationId, seq: sent.body.seq });
        expect(await aWs.next('marker', (f) => f.kind === 'delivered')).toEqual({ type: 'marker', conversationId, userId: b.id, kind: 'delivered', seq: sent.body.seq });
        bWs.send({ type: 'read', conversationId, seq: sent.body.seq });
        expect(await aWs.next('marker', (f) => f.kind === 'read')).toEqual({ type: 'marker', conversationId, userId: b.id, kind: 'read', seq: sent.body.seq });
        const view = await t.api.get(`/v1/conversations/${conversationId}`, b.token);
        expect(view.body.unreadCount).toBe(0);
        // A marker for a conversation one is not in is refused.
        const stranger = await t.api.signUp('nosy');
        const { client: sWs } = await connect(stranger.token);
        sWs.send({ type: 'read', conversationId, seq: 1 });
        expect(['not_found', 'not_a_member']).toContain((await sWs.next('error')).error.code);
      });

      it('what a socket was pushed after ready equals what sync returns for the ready cursor', async () => {
        const { a, b } = await pair();
        const { client: bWs, ready } = await connect(b.token);
        // Changes after ready: a direct conversation already there gets messages; a new group is made and renamed.
        const direct = (await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).body.id as string;
        for (let i = 0; i < 3; i++) await t.api.post(`/v1/conversations/${direct}/messages`, { clientId: clientId(), kind: 'message', content: text(`d${i}`) }, a.token);
        const group = (await t.api.post('/v1/conversations', { type: 'group', title: 'Before', memberIds: [b.id] }, a.token)).body.id as string;
        await t.api.patch(`/v1/conversations/${group}`, { title: 'After' }, a.token);
        const last = await t.api.post(`/v1/conversations/${group}/messages`, { clientId: clientId(), kind: 'message', content: text('g') }, a.token);
        const lastMessage = await bWs.next('message', (f) => f.envelope.id === last.body.id);
        const lastChange = await bWs.next('conversation', (f) => f.conversation.title === 'After');
        const pushed = [...bWs.frames, lastMessage, lastChange];

        // The client's state: the views it was pushed, advanced by the envelopes it was pushed.
        const state = new Map<string, { title: string | null; lastSeq: number }>();
        for (const f of pushed) {
          if (f.type === 'conversation') state.set(f.conversation.id, { title: f.conversation.title, lastSeq: Math.max(f.conversation.lastSeq, state.get(f.conversation.id)?.lastSeq ?? 0) });
        }
        for (const f of pushed) {
          if (f.type !== 'message') continue;
          const known = state.get(f.envelope.conversationId) ?? { title: null, lastSeq: 0 };
          state.set(f.envelope.conversationId, { ...known, lastSeq: Math.max(known.lastSeq, f.envelope.seq) });
        }
        const sync = await t.api.get(`/v1/sync?cursor=${encodeURIComponent(ready.cursor)}`, b.token);
        expect(sync.status).toBe(200);
        const fetched = new Map<string, { title: string | null; lastSeq: number }>(sync.body.conversations.map((c: any) => [c.id, { title: c.title, lastSeq: c.lastSeq }]));
        expect(new Set(fetched.keys())).toEqual(new Set([direct, group]));
        expect(fetched.get(group)).toEqual(state.get(group));
        expect(fetched.get(direct)!.lastSeq).toBe(state.get(direct)!.lastSeq);
      });

      it('pushes conversation changes as the recipient’s own view, and removals', async () => {
        const a = await t.api.signUp('owner');
        const b = await t.api.signUp('joiner');
        await t.api.post(`/v1/connections/${b.id}`, {}, a.token);
        await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token);
        const { client: bWs } = await connect(b.token);
        const group = await t.api.post('/v1/conversations', { type: 'group', title: 'Walkers', memberIds: [b.id] }, a.token);
        expect(group.status).toBe(201);
        const frame = await bWs.next('conversation', (f) => f.conversation.id === group.body.id);
        expect(frame.conversation).toMatchObject({ id: group.body.id, type: 'group', title: 'Walkers', myState: 'active' });
        expect((await t.api.delete(`/v1/conversations/${group.body.id}/members/${b.id}`, a.token)).status).toBeLessThan(300);
        expect(await bWs.next('conversation.removed')).toEqual({ type: 'conversation.removed', conversationId: group.body.id });
      });
    });

    describe('operations', () => {
      it('documents /v1/ws in the OpenAPI document and answers a plain GET with 426', async () => {
        const doc = await t.api.get('/v1/openapi.json');
        const op = doc.body.paths['/v1/ws'].get;
        expect(op.tags).toContain('realtime');
        expect(op.summary).toBeTruthy();
        expect(op.description).toMatch(/auth/);
        const res = await t.api.get('/v1/ws');
        expect(res.status).toBe(426);
        expect(res.body.error.code).toBe('upgrade_required');
      });

      it('refuses upgrades on other paths', async () => {
        const c = new WsClient(t.wsUrl.replace('/v1/ws', '/v1/nope'));
        open.push(c);
        await expect(c.open()).rejects.toMatchObject({ status: 404 });
      });

      it('counts connections and delivered messages', async () => {
        const metric = async (name: string) => {
          const text = (await t.api.get('/metrics')).body as string;
          const line = text.split('\n').find((l) => l.startsWith(`${name} `));
          return Number(line?.split(' ')[1] ?? NaN);
        };
        const { a, b, conversationId } = await pair();
        const before = await metric('parley_ws_connections');
        const delivered = await metric('parley_messages_delivered_total');
        const { client: bWs } = await connect(b.token);
        expect(await metric('parley_ws_connections')).toBe(before + 1);
        await t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: clientId(), kind: 'message', content: text('count me') }, a.token);
        await bWs.next('message');
        expect(await metric('parley_messages_delivered_total')).toBeGreaterThanOrEqual(delivered + 1);
        bWs.close();
        await bWs.waitClosed();
        await expect.poll(() => metric('parley_ws_connections')).toBe(before);
      });
    });
  });
}

describe('WebSocket liveness', () => {
  let t: TestServer;
  const open: WsClient[] = [];
  beforeAll(async () => {
    // Short enough to observe, long enough that a busy machine still answers in time.
    t = await startTestServer('sqlite', { wsHeartbeatMs: 1000, wsAuthTimeoutMs: 1500 });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await t?.close();
  });

  it('closes a socket that does not authenticate in time with 4408', async () => {
    const c = new WsClient(t.wsUrl);
    open.push(c);
    await c.open();
    expect((await c.waitClosed()).code).toBe(WS_CLOSE.authTimeout);
  });

  it('terminates a peer that stops answering pings, and keeps one that answers', async () => {
    const u = await t.api.signUp('zombie');
    const { client: dead } = await WsClient.connect(t.wsUrl, u.token, { autoPong: false });
    const { client: alive } = await WsClient.connect(t.wsUrl, u.token);
    open.push(dead, alive);
    const closed = await dead.waitClosed();
    expect(closed.code).toBe(1006);
    // Several heartbeats later the answering socket is still there.
    await new Promise((r) => setTimeout(r, 3000));
    await alive.sync();
    expect(alive.closed).toBeNull();
  });

  it('serves sockets while Redis is unreachable (presence and the bus degrade, the socket does not)', async () => {
    // The rate limiter is the safety module's concern: an in-memory one keeps this test about the bus and presence.
    const t2 = await startTestServer('sqlite', { redisUrl: 'redis://127.0.0.1:1' }, { limits: new MemoryRateLimiter(rateRules(testConfig())) });
    try {
      const u = await t2.api.signUp('noredis');
      const { client, ready } = await WsClient.connect(t2.wsUrl, u.token);
      open.push(client);
      expect(ready.userId).toBe(u.id);
      await client.sync();
    } finally {
      await t2.close();
    }
  }, 30_000);

  it('closes sockets with 1001 when the server shuts down', async () => {
    const t2 = await startTestServer('sqlite');
    const u = await t2.api.signUp('shutdown');
    const { client } = await WsClient.connect(t2.wsUrl, u.token);
    open.push(client);
    await t2.close();
    expect((await client.waitClosed()).code).toBe(WS_CLOSE.serverShutdown);
  });
});
