/**
 * A real server process under stress, its memory read from /proc: hostile HTTP input and a
 * consumer that stops reading leave its RSS bounded; a thousand sockets that reconnect at
 * once all resync and miss nothing; a peer that vanished is found by the heartbeat.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WS_CLOSE } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from '../harness.ts';
import { WsClient } from '../realtime-client.ts';
import { send, soak, spawnServer, type Spawned } from './support.ts';

const MiB = 1024 * 1024;

async function withServer(env: Record<string, string>): Promise<{ server: Spawned; api: Api; wsUrl: string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-stress-'));
  const server = await spawnServer({ PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: 'warn', PARLEY_SENDS_PER_MINUTE: '1000000', ...env });
  return {
    server,
    api: new Api(server.url),
    wsUrl: `${server.url.replace(/^http/, 'ws')}/v1/ws`,
    stop: async () => {
      await server.kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A ping round trip with room for a crowd: every frame written before the pong has arrived. */
async function syncSlow(client: WsClient): Promise<void> {
  client.send({ type: 'ping' });
  await client.next('pong', undefined, 120_000);
}

const message = (clientId: string, data = `{"text":"${clientId}"}`) => ({ clientId, kind: 'message', content: { encoding: 'plain', data } });

describe('memory of a real server process', () => {
  let s: Awaited<ReturnType<typeof withServer>>;
  beforeAll(async () => {
    s = await withServer({ PARLEY_WS_MAX_BUFFERED_BYTES: String(64 * 1024), PARLEY_DURABILITY: 'normal' });
  }, 180_000);
  afterAll(async () => s?.stop());

  const counter = async (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec((await s.api.get('/metrics')).body as string)?.[1] ?? NaN);

  it('stays bounded under rounds of hostile HTTP input', async () => {
    const u = await s.api.signUp('mem');
    const auth = { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' };
    const round = async () => {
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 100; i++) {
        work.push(send(s.server.url, 'PATCH', '/v1/me', { headers: auth, body: JSON.stringify({ bio: 'x'.repeat(250 * 1024) }) }));
        work.push(send(s.server.url, 'PATCH', '/v1/me', { headers: auth, body: '{"a":'.repeat(30_000) + '1' + '}'.repeat(30_000) }));
        work.push(send(s.server.url, 'POST', '/v1/conversations', { headers: auth, body: JSON.stringify({ type: 'group', title: 't', memberIds: Array.from({ length: 900 }, (_, j) => `id${j}`) }) }));
        work.push(send(s.server.url, 'GET', `/v1/users?query=${'q'.repeat(2000)}`, { headers: auth }));
        if (work.length >= 40) await Promise.all(work.splice(0));
      }
      await Promise.all(work);
    };
    await round();
    const warm = s.server.rss();
    for (let i = 0; i < soak(3, 20); i++) await round();
    const after = s.server.rss();
    // Each round pushes ~50 MiB of hostile bodies through the server.
    expect(after - warm, `RSS ${Math.round(warm / MiB)} → ${Math.round(after / MiB)} MiB`).toBeLessThan(64 * MiB);
    expect((await s.api.get('/v1/health')).status).toBe(200);
  }, 300_000);

  it('cuts a consumer that stopped reading, without the server’s memory growing with what it was sent', async () => {
    const a = await s.api.signUp('fast');
    const b = await s.api.signUp('stuck');
    await s.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, b.token);
    const conversationId = (await s.api.post('/v1/conversations', { type: 'group', title: 'flood', memberIds: [b.id] }, a.token)).body.id as string;
    const { client: stuck } = await WsClient.connect(s.wsUrl, b.token);
    (stuck.ws as unknown as { _socket: Socket })._socket.pause();

    const before = s.server.rss();
    const payload = 'p'.repeat(60 * 1024);
    let sent = 0;
    // Far more than the kernel buffers of a loopback socket and the 64 KiB server limit.
    const total = soak(1500, 6000);
    while (sent < total) {
      const batch = [];
      for (let i = 0; i < 25; i++, sent++) batch.push(s.api.post(`/v1/conversations/${conversationId}/messages`, message(`flood-${sent}`, payload), a.token));
      for (const res of await Promise.all(batch)) expect(res.status).toBe(201);
    }
    const after = s.server.rss();
    (stuck.ws as unknown as { _socket: Socket })._socket.resume();
    // Cut: with the close frame if it could still get through, else the socket was destroyed.
    expect([WS_CLOSE.slowConsumer, 1006]).toContain((await stuck.waitClosed(10_000)).code);
    expect(await counter('parley_ws_slow_consumers_total')).toBeGreaterThanOrEqual(1);
    const flooded = (sent * payload.length) / MiB;
    expect(after - before, `RSS ${Math.round(before / MiB)} → ${Math.round(after / MiB)} MiB after ${Math.round(flooded)} MiB sent`).toBeLessThan(Math.min(96 * MiB, (flooded * MiB) / 2));
  }, 300_000);
});

describe('a thousand sockets reconnecting at once', () => {
  let s: Awaited<ReturnType<typeof withServer>>;
  beforeAll(async () => {
    // The storm is the subject here, not the auth timeout: every socket sends its auth frame
    // at once, and on two shared cores the last ones wait (see the presence snapshot cost in docs/SECURITY.md).
    s = await withServer({ PARLEY_WS_AUTH_TIMEOUT_MS: '180000' });
  }, 180_000);
  afterAll(async () => s?.stop());

  it('all resync and miss nothing: messages sent while they were away, and after', async () => {
    const usersCount = 50;
    const socketsPerUser = soak(20, 40);
    const users = [];
    for (let i = 0; i < usersCount; i++) {
      const u = await s.api.signUp(`crowd${i}`);
      await s.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, u.token);
      users.push(u);
    }
    const sender = users[0]!;
    const conv = await s.api.post('/v1/conversations', { type: 'group', title: 'crowd', memberIds: users.slice(1).map((u) => u.id) }, sender.token);
    expect(conv.status).toBe(201);
    const conversationId = conv.body.id as string;
    const sendOne = async (clientId: string) => {
      const res = await s.api.post(`/v1/conversations/${conversationId}/messages`, message(clientId), sender.token);
      expect(res.status).toBe(201);
      return res.body.seq as number;
    };
    const base = (await s.api.get(`/v1/conversations/${conversationId}`, sender.token)).body.lastSeq as number;

    interface Device {
      token: string;
      client: WsClient;
      cursor: string;
      seen: Set<number>;
    }
    const connectAll = (devices: { token: string; seen: Set<number> }[]) =>
      Promise.all(
        devices.map(async (d) => {
          // All at once on two shared cores: allow the crowd time, not each socket 5 s.
          const client = new WsClient(s.wsUrl);
          await client.open();
          client.send({ type: 'auth', token: d.token });
          const ready = await client.next('ready', undefined, 120_000);
          return { ...d, client, cursor: ready.cursor as string };
        }),
      );
    const collect = (d: Device) => {
      for (const f of d.client.frames.splice(0)) if (f.type === 'message' && f.envelope.conversationId === conversationId) d.seen.add(f.envelope.seq);
    };

    let devices: Device[] = await connectAll(users.flatMap((u) => Array.from({ length: socketsPerUser }, () => ({ token: u.token, seen: new Set<number>() }))));
    expect(devices).toHaveLength(usersCount * socketsPerUser);
    const live1 = [];
    for (let i = 0; i < 10; i++) live1.push(await sendOne(`before-${i}`));

    // Every socket drops at once; messages go on meanwhile.
    await Promise.all(devices.map((d) => syncSlow(d.client)));
    for (const d of devices) {
      collect(d);
      d.client.close();
    }
    const away = [];
    for (let i = 0; i < 10; i++) away.push(await sendOne(`away-${i}`));

    // All reconnect at once, then resync from the cursor each had.
    const previous = devices;
    devices = (await connectAll(previous.map((d) => ({ token: d.token, seen: d.seen })))).map((d, i) => ({ ...d, cursor: previous[i]!.cursor }));
    await Promise.all(
      devices.map(async (d) => {
        const sync = await s.api.get(`/v1/sync?cursor=${encodeURIComponent(d.cursor)}`, d.token);
        expect(sync.status).toBe(200);
        const changed = sync.body.conversations.find((c: { id: string }) => c.id === conversationId);
        expect(changed, 'the conversation changed while away').toBeDefined();
        const after = Math.max(base, ...d.seen);
        const history = await s.api.get(`/v1/conversations/${conversationId}/messages?after=${after}&limit=200`, d.token);
        for (const e of history.body.messages) d.seen.add(e.seq);
        expect(changed.lastSeq).toBe(Math.max(...d.seen));
      }),
    );
    const live2 = [];
    for (let i = 0; i < 10; i++) live2.push(await sendOne(`after-${i}`));
    await Promise.all(devices.map((d) => syncSlow(d.client)));

    const expected = [...live1, ...away, ...live2].sort((x, y) => x - y);
    let missing = 0;
    for (const d of devices) {
      collect(d);
      for (const seq of expected) if (!d.seen.has(seq)) missing++;
      d.client.close();
    }
    expect(missing, 'messages a socket never got, live or by resync').toBe(0);
  }, soak(600_000, 1_800_000));
});

describe('a peer that vanished', () => {
  let s: Awaited<ReturnType<typeof withServer>>;
  beforeAll(async () => {
    s = await withServer({ PARLEY_WS_HEARTBEAT_MS: '200' });
  }, 180_000);
  afterAll(async () => s?.stop());

  const gauge = async () => {
    const text = (await s.api.get('/metrics')).body as string;
    return Number(/^parley_ws_connections (\S+)/m.exec(text)?.[1] ?? NaN);
  };

  it('is found by the heartbeat and dropped: its socket closed, the connection count back down', async () => {
    const u = await s.api.signUp('ghost');
    const { client: alive } = await WsClient.connect(s.wsUrl, u.token);
    const { client: ghost } = await WsClient.connect(s.wsUrl, u.token);
    expect(await gauge()).toBe(2);
    // The machine on the other end is gone: nothing it receives is read, nothing is answered,
    // and no FIN ever comes.
    (ghost.ws as unknown as { _socket: Socket })._socket.pause();
    const deadline = Date.now() + 10_000;
    while ((await gauge()) !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await gauge()).toBe(1);
    // The live peer answered every ping and is still served.
    await alive.sync();
    expect(alive.closed).toBeNull();
    alive.close();
    ghost.close();
  }, 60_000);
});
