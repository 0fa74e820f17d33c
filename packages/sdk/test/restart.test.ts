import { afterAll, describe, expect, it } from 'vitest';
import { createServer, testConfig, type Config, type ParleyServer } from '@parley/server';
import { DIALECTS, freshStorage } from '@parley/server/testing';
import type { ParleyClient } from '../src/index.ts';
import { eventually, signedUpClient, startRelay } from './support.ts';

for (const dialect of DIALECTS) {
  describe(`SDK across a server restart [${dialect}]`, () => {
    const cleanup: Array<() => Promise<void> | void> = [];
    afterAll(async () => {
      for (const step of cleanup.reverse()) await step();
    });

    it('reconnects to the restarted server on the same data, resyncs, and misses or doubles nothing', async () => {
      const storage = await freshStorage(dialect);
      cleanup.push(() => storage.drop());
      let config: Config = testConfig({ port: 0, host: '127.0.0.1', logLevel: 'silent', dataDir: storage.dataDir, databaseUrl: storage.databaseUrl });
      let server: ParleyServer = await createServer(config);
      const url = await server.listen();
      cleanup.push(() => server.close());
      config = { ...config, port: Number(new URL(url).port) };

      // A reaches the server through a relay that can keep it out while B writes, so the resync is what brings B's messages.
      const relay = await startRelay(url);
      cleanup.push(() => relay.close());
      const a = await signedUpClient(relay, 'rs_a');
      const b = await signedUpClient({ url }, 'rs_b');
      const clients: ParleyClient[] = [a.client, b.client];
      cleanup.push(() => clients.forEach((c) => c.disconnect()));
      await a.client.connections.request(b.id);
      await b.client.connections.accept(a.id);
      const fromB: string[] = [];
      a.client.on('message', (e, content) => {
        if (e.senderId === b.id && content?.type === 'text') fromB.push(content.text);
      });
      await a.client.connect();
      const dm = await b.client.openDirect(a.id);
      await b.client.waitForAck((await b.client.sendText(dm.id, 'before the restart')).clientId);
      await eventually(() => fromB.length === 1, 'the first message');

      relay.pause();
      await server.close();
      await eventually(() => a.client.connectionState === 'connecting', 'a to notice the shutdown');
      // Written while the server is down: the outbox keeps it and retries with the same clientId.
      const queued = await a.client.sendText(dm.id, 'written while the server was down');

      server = await createServer(config);
      await server.listen();
      for (const text of ['after one', 'after two', 'after three']) await b.client.waitForAck((await b.client.sendText(dm.id, text)).clientId);
      relay.resume();

      const ack = await a.client.waitForAck(queued.clientId);
      await eventually(() => fromB.length === 4 && a.client.connectionState === 'online', 'the resync');
      expect(fromB).toEqual(['before the restart', 'after one', 'after two', 'after three']);
      const history = await b.client.messages.history(dm.id, { after: 0 });
      expect(history.filter((m) => m.clientId === queued.clientId)).toEqual([expect.objectContaining({ id: ack.id })]);
      // The queued message landed somewhere among B's (whichever reached the server first); each shows once, in seq order.
      await eventually(() => a.client.store.getMessages(dm.id).every((m) => m.seq !== null) && a.client.store.getMessages(dm.id).length === 5, 'the store');
      const texts = a.client.store.getMessages(dm.id).map((m) => m.text);
      expect([...texts].sort()).toEqual(['after one', 'after three', 'after two', 'before the restart', 'written while the server was down']);
      const seqs = a.client.store.getMessages(dm.id).map((m) => m.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => (x ?? 0) - (y ?? 0)));
      expect(history.filter((m) => m.kind === 'message').map((m) => m.id)).toEqual(a.client.store.getMessages(dm.id).map((m) => m.id));
    });
  });
}
