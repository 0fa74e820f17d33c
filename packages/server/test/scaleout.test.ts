/**
 * Scale-out: two real server processes (`parley serve`), one PostgreSQL database, one Redis.
 * Whatever happens on one process reaches the sockets of the other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WS_CLOSE } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FANOUT_THRESHOLD } from '../src/modules/realtime/index.ts';
import { Api, IN_CI, REDIS_URL, freshStorage, postgresAvailable } from './harness.ts';
import { WsClient, redisAvailable } from './realtime-client.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const redis = await redisAvailable(REDIS_URL, IN_CI);
const postgres = await postgresAvailable();

interface Proc {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  api: Api;
  output: string[];
}

/** Start `parley serve` on a random port; resolves once it logged its URL. */
function serve(env: Record<string, string>): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, PARLEY_PORT: '0', PARLEY_HOST: '127.0.0.1', PARLEY_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output.join('')}`)), 30_000);
    child.stderr!.on('data', (d) => output.push(String(d)));
    child.stdout!.on('data', (d) => {
      output.push(String(d));
      for (const line of String(d).split('\n')) {
        if (!line.includes('parley is listening')) continue;
        const url = (JSON.parse(line) as { url: string }).url;
        clearTimeout(timer);
        resolve({ child, url, wsUrl: `${url.replace(/^http/, 'ws')}/v1/ws`, api: new Api(url), output });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output.join('')}`));
    });
  });
}

async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (p.child.exitCode === null) p.child.kill('SIGKILL');
}

describe.skipIf(!redis || !postgres)('scale-out: two processes, one PostgreSQL, one Redis', () => {
  let storage: Awaited<ReturnType<typeof freshStorage>>;
  let p1: Proc;
  let p2: Proc;
  const open: WsClient[] = [];
  const connect = async (p: Proc, token: string) => {
    const { client } = await WsClient.connect(p.wsUrl, token);
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    storage = await freshStorage('postgres');
    const env = { DATABASE_URL: storage.databaseUrl!, REDIS_URL, PARLEY_DATA_DIR: storage.dataDir };
    // One after the other: the first one migrates the fresh database.
    p1 = await serve(env);
    p2 = await serve(env);
  }, 90_000);

  afterAll(async () => {
    for (const c of open) c.close();
    await Promise.all([stop(p1), stop(p2)]);
    await storage?.drop();
  }, 30_000);

  /** Two connected users, one signed up on each process, and their direct conversation. */
  const pair = async () => {
    const a = await p1.api.signUp('east');
    const b = await p2.api.signUp('west');
    expect((await p1.api.post(`/v1/connections/${b.id}`, {}, a.token)).status).toBeLessThan(300);
    expect((await p2.api.post(`/v1/connections/${a.id}/accept`, {}, b.token)).status).toBeLessThan(300);
    const conv = await p1.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token);
    expect(conv.status).toBe(201);
    return { a, b, conversationId: conv.body.id as string };
  };

  it('a message sent on one process reaches a socket on the other, both ways', async () => {
    const { a, b, conversationId } = await pair();
    const aWs = await connect(p1, a.token);
    const bWs = await connect(p2, b.token);
    const sent = await p1.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: 'so-1', kind: 'message', content: { encoding: 'plain', data: '"from p1"' } }, a.token);
    expect(sent.status).toBe(201);
    expect((await bWs.next('message')).envelope).toMatchObject({ id: sent.body.id, seq: sent.body.seq, senderId: a.id });

    bWs.send({ type: 'send', reqId: 'w1', conversationId, clientId: 'so-2', kind: 'message', content: { encoding: 'plain', data: '"from p2"' } });
    const ack = await bWs.next('ack');
    expect((await aWs.next('message', (f) => f.envelope.id === ack.id)).envelope.senderId).toBe(b.id);
    await bWs.sync();
    await bWs.none('message', (f) => f.envelope.id === ack.id);
  });

  it('typing and markers cross processes', async () => {
    const { a, b, conversationId } = await pair();
    const aWs = await connect(p1, a.token);
    const bWs = await connect(p2, b.token);
    aWs.send({ type: 'typing', conversationId, active: true });
    expect(await bWs.next('typing')).toMatchObject({ conversationId, userId: a.id, active: true });
    const sent = await p1.api.post(`/v1/conversations/${conversationId}/messages`, { clientId: 'so-3', kind: 'message', content: { encoding: 'plain', data: '"read me"' } }, a.token);
    await bWs.next('message');
    bWs.send({ type: 'read', conversationId, seq: sent.body.seq });
    expect(await aWs.next('marker', (f) => f.kind === 'read')).toMatchObject({ userId: b.id, seq: sent.body.seq });
  });

  it('a user online on any process is online; offline only when the last socket anywhere closes', async () => {
    const { a, b } = await pair();
    const bWs = await connect(p2, b.token);
    const a1 = await connect(p1, a.token);
    expect(await bWs.next('presence', (f) => f.userId === a.id)).toMatchObject({ status: 'online' });
    const second = await p2.api.post('/v1/sessions', { username: a.username, password: 'correct horse battery' });
    const a2 = await connect(p2, second.body.session.token);
    // A peer arriving on the first process learns a is online (counted on both processes).
    const c = await p1.api.signUp('north');
    await p1.api.post(`/v1/connections/${a.id}`, {}, c.token);
    await p2.api.post(`/v1/connections/${c.id}/accept`, {}, second.body.session.token);
    const cWs = await connect(p1, c.token);
    expect(await cWs.next('presence', (f) => f.userId === a.id)).toMatchObject({ status: 'online' });

    a1.close();
    await a1.waitClosed();
    await bWs.sync();
    await bWs.none('presence', (f) => f.userId === a.id, 500);
    a2.close();
    await a2.waitClosed();
    expect(await bWs.next('presence', (f) => f.userId === a.id)).toMatchObject({ status: 'offline' });
  });

  it('a big group’s message (one fan-out copy per process) reaches members on both processes', async () => {
    const owner = await p1.api.signUp('crowd');
    const members = [];
    for (let i = 0; i < FANOUT_THRESHOLD + 2; i++) {
      const p = i % 2 === 0 ? p1 : p2;
      const m = await p.api.signUp(`c${i}`);
      await p.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, m.token);
      members.push(m);
    }
    const group = await p1.api.post('/v1/conversations', { type: 'group', title: 'Crowd', memberIds: members.map((m) => m.id) }, owner.token);
    expect(group.body.notAdded).toEqual([]);
    const onP1 = await connect(p1, members[0]!.token);
    const onP2 = await connect(p2, members[1]!.token);
    const ownerWs = await connect(p2, owner.token);
    ownerWs.send({ type: 'send', reqId: 'c', conversationId: group.body.id, clientId: 'crowd-1', kind: 'message', content: { encoding: 'plain', data: '"all of you"' } });
    const ack = await ownerWs.next('ack');
    for (const ws of [onP1, onP2]) expect((await ws.next('message')).envelope.id).toBe(ack.id);
    await ownerWs.sync();
    await ownerWs.none('message');
  }, 60_000);

  it('revoking a session on one process closes its socket on the other', async () => {
    const u = await p1.api.signUp('revoke');
    const other = await p2.api.post('/v1/sessions', { username: u.username, password: 'correct horse battery' });
    const ws = await connect(p2, other.body.session.token);
    expect((await p1.api.delete(`/v1/sessions/${other.body.session.id}`, u.token)).status).toBe(204);
    await ws.next('session.revoked');
    expect((await ws.waitClosed()).code).toBe(WS_CLOSE.revoked);
  });

  it('a token the other process has cached stops working there as soon as the bus delivers the revocation, or the password change', async () => {
    const u = await p1.api.signUp('cached');
    const signIn = async () => (await p2.api.post('/v1/sessions', { username: u.username, password: 'correct horse battery' })).body.session as { id: string; token: string };
    const tablet = await signIn();
    const phone = await signIn();
    // The second process checks both tokens, and from then on answers them from memory.
    for (const token of [tablet.token, phone.token, tablet.token, phone.token]) expect((await p2.api.get('/v1/me', token)).status).toBe(200);
    // The other process refuses the token as soon as the bus delivers the revocation (the revoking
    // request answers once Redis took it; the other subscriber reads it a moment later).
    const refusedOnP2 = async (token: string) => {
      const deadline = Date.now() + 5_000;
      while ((await p2.api.get('/v1/me', token)).status !== 401) {
        if (Date.now() > deadline) throw new Error('the other process still accepts a revoked token');
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    expect((await p1.api.delete(`/v1/sessions/${tablet.id}`, u.token)).status).toBe(204);
    expect((await p1.api.get('/v1/me', tablet.token)).status).toBe(401);
    await refusedOnP2(tablet.token);
    expect((await p2.api.get('/v1/me', phone.token)).status).toBe(200);
    expect((await p1.api.put('/v1/me/password', { currentPassword: 'correct horse battery', newPassword: 'a brand new passphrase' }, u.token)).status).toBe(204);
    await refusedOnP2(phone.token);
    expect((await p2.api.get('/v1/me', u.token)).status).toBe(200);
  });
});
