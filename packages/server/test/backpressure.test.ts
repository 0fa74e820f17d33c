import { WS_CLOSE } from '@parley/protocol';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import { WsClient } from './realtime-client.ts';

const MAX_BUFFERED = 64 * 1024;

for (const dialect of DIALECTS) {
  describe(`backpressure [${dialect}]`, () => {
    let t: TestServer;
    const open: WsClient[] = [];
    beforeAll(async () => {
      t = await startTestServer(dialect, { wsMaxBufferedBytes: MAX_BUFFERED, durability: 'normal', sendsPerMinute: 100_000 });
    });
    afterAll(async () => {
      for (const c of open) c.close();
      await t?.close();
    });

    it('delivers a frame larger than the buffer limit to a consumer that keeps up', async () => {
      const a = await t.api.signUp('bigsender');
      const b = await t.api.signUp('bigreader');
      await t.api.post(`/v1/connections/${b.id}`, {}, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token);
      const conversationId = (await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).body.id as string;
      const { client: reader } = await WsClient.connect(t.wsUrl, b.token);
      open.push(reader);
      // The largest payload there is: 64 KiB of ciphertext, base64 in the frame (~87 KiB > the 64 KiB limit).
      const data = Buffer.alloc(64 * 1024, 7).toString('base64');
      for (let i = 0; i < 3; i++) {
        const sent = await t.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: `big-${i}`, kind: 'message', content: { encoding: 'mls', data } }, a.token);
        expect(sent.status).toBe(201);
        expect((await reader.next('message', (f) => f.envelope.id === sent.body.id)).envelope.content.data).toBe(data);
      }
      expect(reader.closed).toBeNull();
    });

    it('cuts a consumer that never reads (4429), keeps serving everyone else, and the consumer resyncs', async () => {
      const a = await t.api.signUp('fast');
      const b = await t.api.signUp('stuck');
      await t.api.post(`/v1/connections/${b.id}`, {}, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token);
      const conversationId = (await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).body.id as string;

      const { client: sender } = await WsClient.connect(t.wsUrl, a.token);
      const { client: stuck } = await WsClient.connect(t.wsUrl, b.token);
      open.push(sender, stuck);
      const metrics = t.server.ctx.metrics;
      const cutBefore = (await metrics.slowConsumers.get()).values[0]?.value ?? 0;
      const connectionsBefore = (await metrics.connections.get()).values[0]?.value ?? 0;

      // The stuck client stops reading its socket: the kernel buffers fill, then the server's.
      const socket = (stuck.ws as unknown as { _socket: Socket })._socket;
      socket.pause();

      const payload = 'p'.repeat(60 * 1024);
      let sent = 0;
      let cut = false;
      // However long it takes, a bounded number of sends must trip the limit: the kernel
      // buffers of a loopback socket are a few MiB at most.
      while (!cut && sent < 2000) {
        for (let i = 0; i < 20; i++, sent++) {
          sender.send({ type: 'send', reqId: sent, conversationId, clientId: `bp-${sent}`, kind: 'message', content: { encoding: 'plain', data: payload } });
        }
        await sender.next('ack', (f) => f.reqId === sent - 1, 20_000);
        sender.frames.length = 0;
        cut = ((await metrics.slowConsumers.get()).values[0]?.value ?? 0) > cutBefore;
      }
      expect(cut).toBe(true);
      // Reading again, the client drains what was buffered and finds the slow-consumer close.
      socket.resume();
      expect((await stuck.waitClosed(10_000)).code).toBe(WS_CLOSE.slowConsumer);
      await expect.poll(async () => (await metrics.connections.get()).values[0]?.value).toBe(connectionsBefore - 1);

      // Nothing more is queued for it: the sender goes on being served.
      sender.send({ type: 'send', reqId: 'after', conversationId, clientId: 'bp-after', kind: 'message', content: { encoding: 'plain', data: 'still here' } });
      const last = await sender.next('ack', (f) => f.reqId === 'after', 20_000);

      const seen = stuck.frames.filter((f) => f.type === 'message').map((f) => f.envelope.seq as number);
      expect(seen.length).toBeLessThan(sent);

      // Reconnect and resync: everything after the last seq it saw is there.
      const { client: again } = await WsClient.connect(t.wsUrl, b.token);
      open.push(again);
      const after = seen.length ? Math.max(...seen) : 0;
      let fetched = 0;
      let cursor = after;
      for (;;) {
        const page = await t.api.get(`/v1/conversations/${conversationId}/messages?after=${cursor}&limit=200`, b.token);
        expect(page.status).toBe(200);
        if (page.body.messages.length === 0) break;
        fetched += page.body.messages.length;
        cursor = page.body.messages.at(-1).seq;
      }
      expect(cursor).toBe(last.seq);
      expect(fetched).toBe(last.seq - after);
    }, 120_000);
  });
}
