/**
 * Crash and restart: the real server process, under concurrent sends, is killed with
 * SIGKILL at random moments, again and again. After every restart each acknowledged
 * message is there exactly once with the seq it was acked with, seq has no gaps, and a
 * retried send (same device, same clientId) answers the first ack instead of storing twice.
 * Then PostgreSQL itself is restarted under load: the server answers 503 meanwhile, never
 * 500, recovers by itself, and loses nothing acknowledged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, DIALECTS, freshStorage } from '../harness.ts';
import { postgresBin, soak, spawnServer, startPrivatePostgres, type PrivatePostgres, type Spawned } from './support.ts';

interface Ack {
  id: string;
  seq: number;
}

interface Sender {
  userId: string;
  token: string;
  /** clientId → the ack the server gave. */
  acked: Map<string, Ack>;
  /** Sends whose outcome the client never learned (the process died, or the database was down). */
  unknown: Set<string>;
  next: number;
}

const LOAD_ENV = { PARLEY_SENDS_PER_MINUTE: '1000000', PARLEY_REQUEST_MAX_MESSAGES: '100' };

const body = (clientId: string) => ({ clientId, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ text: `message ${clientId}` }) } });

/** Send as fast as the server acks until told to stop or the server goes away. */
async function load(api: Api, conversationId: string, s: Sender, stop: { stopped: boolean }, statuses: number[]): Promise<void> {
  while (!stop.stopped) {
    const clientId = `${s.userId.slice(-8)}-${s.next++}`;
    let res;
    try {
      res = await api.post<Ack>(`/v1/conversations/${conversationId}/messages`, body(clientId), s.token);
    } catch {
      s.unknown.add(clientId); // the connection died with the request in flight
      return;
    }
    statuses.push(res.status);
    if (res.status === 201) s.acked.set(clientId, { id: res.body.id, seq: res.body.seq });
    else if (res.status === 503) s.unknown.add(clientId);
    else throw new Error(`unexpected ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Retry every send whose outcome is unknown, and a sample of acked ones: each answers one ack, the first one. */
async function retryAll(api: Api, conversationId: string, senders: Sender[]): Promise<void> {
  for (const s of senders) {
    for (const clientId of s.unknown) {
      const res = await api.post<Ack>(`/v1/conversations/${conversationId}/messages`, body(clientId), s.token);
      expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
      s.acked.set(clientId, { id: res.body.id, seq: res.body.seq });
    }
    s.unknown.clear();
    const acked = [...s.acked.entries()];
    const sample = Array.from({ length: Math.min(15, acked.length) }, () => acked[Math.floor(Math.random() * acked.length)]!);
    for (const [clientId, ack] of sample) {
      const res = await api.post<Ack>(`/v1/conversations/${conversationId}/messages`, body(clientId), s.token);
      expect(res.status, `retry of ${clientId}`).toBe(200);
      expect({ id: res.body.id, seq: res.body.seq }).toEqual(ack);
    }
  }
}

/** Every envelope of the conversation, paged the way a client pages. */
async function history(api: Api, conversationId: string, token: string): Promise<{ id: string; seq: number; clientId: string; senderDeviceId: string; kind: string }[]> {
  const all = [];
  let after = 0;
  for (;;) {
    const res = await api.get(`/v1/conversations/${conversationId}/messages?after=${after}&limit=200`, token);
    expect(res.status).toBe(200);
    if (res.body.messages.length === 0) return all;
    all.push(...res.body.messages);
    after = res.body.messages[res.body.messages.length - 1].seq;
  }
}

async function expectNothingLost(api: Api, conversationId: string, senders: Sender[]): Promise<number> {
  const envelopes = await history(api, conversationId, senders[0]!.token);
  const seqs = envelopes.map((e) => e.seq);
  expect(seqs, 'seq is gap-free from 1').toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  const keys = envelopes.map((e) => `${e.senderDeviceId}/${e.clientId}`);
  expect(new Set(keys).size, 'no (device, clientId) stored twice').toBe(keys.length);
  const byClientId = new Map(envelopes.filter((e) => e.kind === 'message').map((e) => [e.clientId, e]));
  let total = 0;
  for (const s of senders) {
    for (const [clientId, ack] of s.acked) {
      const e = byClientId.get(clientId);
      expect(e, `acked message ${clientId} is there`).toBeDefined();
      expect({ id: e!.id, seq: e!.seq }).toEqual(ack);
      total++;
    }
  }
  expect(byClientId.size, 'nothing stored that no one sent').toBe(total);
  return total;
}

async function setUp(api: Api, n: number): Promise<{ conversationId: string; senders: Sender[] }> {
  const senders: Sender[] = [];
  for (let i = 0; i < n; i++) {
    const u = await api.signUp(`load${i}`);
    // Let the first sender add everyone to the group without a connection first.
    await api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, u.token);
    senders.push({ userId: u.id, token: u.token, acked: new Map(), unknown: new Set(), next: 0 });
  }
  const conv = await api.post('/v1/conversations', { type: 'group', title: 'crash test', memberIds: senders.slice(1).map((s) => s.userId) }, senders[0]!.token);
  expect(conv.status, JSON.stringify(conv.body)).toBe(201);
  expect(conv.body.notAdded).toEqual([]);
  return { conversationId: conv.body.id, senders };
}

for (const dialect of DIALECTS) {
  describe(`SIGKILL under load [${dialect}]`, () => {
    let storage: Awaited<ReturnType<typeof freshStorage>>;
    let server: Spawned | undefined;
    beforeAll(async () => {
      storage = await freshStorage(dialect);
    });
    afterAll(async () => {
      await server?.kill();
      await storage?.drop();
    });

    it('keeps every acked message exactly once, gap-free, across repeated kills; retries are idempotent', async () => {
      const env = { ...LOAD_ENV, PARLEY_DATA_DIR: storage.dataDir, ...(storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {}) };
      server = await spawnServer(env);
      const { conversationId, senders } = await setUp(new Api(server.url), soak(4, 12));
      const rounds = soak(4, 25);
      let killedMidFlight = 0;
      for (let round = 0; round < rounds; round++) {
        const api = new Api(server.url);
        const stop = { stopped: false };
        const statuses: number[] = [];
        const loads = senders.map((s) => load(api, conversationId, s, stop, statuses));
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 600));
        await server.kill('SIGKILL');
        await Promise.all(loads);
        killedMidFlight += senders.filter((s) => s.unknown.size > 0).length;
        expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);

        server = await spawnServer(env);
        const restarted = new Api(server.url);
        await retryAll(restarted, conversationId, senders);
        await expectNothingLost(restarted, conversationId, senders);
      }
      // The kills did land while sends were in flight (otherwise this proved little).
      expect(killedMidFlight).toBeGreaterThan(0);
      const total = await expectNothingLost(new Api(server.url), conversationId, senders);
      expect(total).toBeGreaterThan(rounds * senders.length);
    }, soak(900_000, 3_600_000));
  });
}

describe.skipIf(!postgresBin())('PostgreSQL restarted under load (a private cluster)', () => {
  let pg: PrivatePostgres;
  let server: Spawned | undefined;
  let dataDir: string;
  beforeAll(async () => {
    pg = await startPrivatePostgres();
    dataDir = mkdtempSync(path.join(tmpdir(), 'parley-pgrestart-'));
  }, 120_000);
  afterAll(async () => {
    await server?.kill();
    await pg?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  // Regression: the process exited ('Connection terminated unexpectedly' emitted on a
  // checked-out pg client) when PostgreSQL went away mid-transaction, and a request on that
  // dead client answered 500.
  it('answers 503 (never 500) while the database is down, stays up, recovers by itself, loses nothing acked', async () => {
    server = await spawnServer({ ...LOAD_ENV, PARLEY_DATA_DIR: dataDir, DATABASE_URL: pg.url });
    const api = new Api(server.url);
    const { conversationId, senders } = await setUp(api, 4);
    const restarts = soak(2, 10);
    const seen: number[] = [];
    for (let round = 0; round < restarts; round++) {
      const stop = { stopped: false };
      const statuses: number[] = [];
      const loads = senders.map(async (s) => {
        // Keep sending through the outage: a 503 is an answer, and the client retries later.
        while (!stop.stopped) await load(api, conversationId, s, stop, statuses);
      });
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 300));
      await pg.restart(round % 2 === 0 ? 'immediate' : 'fast', 1500);
      // Let the server find the database again under the same load.
      await new Promise((r) => setTimeout(r, 1500));
      stop.stopped = true;
      await Promise.all(loads);
      seen.push(...statuses);
      expect(statuses.filter((s) => s !== 201 && s !== 503), 'only acks and 503s').toEqual([]);
      // It recovered by itself: sends after the restart were acked.
      expect(statuses.lastIndexOf(201)).toBeGreaterThan(statuses.indexOf(503));
      await retryAll(api, conversationId, senders);
      await expectNothingLost(api, conversationId, senders);
    }
    expect(seen, 'the outage was seen as 503').toContain(503);
    expect(server.child.exitCode, 'the server process is still running').toBeNull();
    // While down, health still answers (the process is up); the 503 carried Retry-After.
    expect((await api.get('/v1/health')).status).toBe(200);
  }, soak(600_000, 1_800_000));

  it('a 503 while the database is down carries the unavailable code and Retry-After', async () => {
    const u = await new Api(server!.url).signUp('retry');
    const bin = postgresBin()!;
    expect(bin).toBeTruthy();
    // Stop the cluster, ask, start it again.
    const down = pg.restart('fast', 2500);
    await new Promise((r) => setTimeout(r, 700));
    const res = await new Api(server!.url).get('/v1/me', u.token);
    await down;
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('unavailable');
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect((await new Api(server!.url).get('/v1/me', u.token)).status).toBe(200);
  }, 60_000);
});
