import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../src/config/config.ts';
import { RedisRateLimiter, rateRules, type BucketSpec, type RateRule } from '../src/modules/safety/index.ts';
import { DIALECTS, IN_CI, REDIS_URL, startTestServer, type TestServer } from './harness.ts';
import { WsClient } from './realtime-client.ts';

const PASSWORD = 'correct horse battery';

for (const dialect of DIALECTS) {
  describe(`sign-in rate limits [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      // Behind a trusted proxy, so each test can speak from an address of its own.
      t = await startTestServer(dialect, { signInPerUsername: 3, signInPerAddress: 6, trustProxy: true });
    });
    afterAll(async () => t?.close());

    let nextAddress = 1;
    const from = () => ({ 'x-forwarded-for': `198.51.100.${nextAddress++}` });
    const signIn = (username: string, password: string, headers: Record<string, string>) =>
      t.api.call('POST', '/v1/sessions', { body: { username, password }, headers });

    it('brute force on a real username and on an unknown one gets the same 429 with Retry-After', async () => {
      const real = await t.api.signUp('victim');
      const answers = async (username: string) => {
        const out = [];
        for (let i = 0; i < 5; i++) {
          const res = await signIn(username, `guess number ${i}`, from());
          out.push({ status: res.status, body: res.body, retryAfter: res.headers.get('retry-after') });
        }
        return out;
      };
      const forReal = await answers(real.username);
      const forUnknown = await answers('nobody_by_this_name');
      expect(forReal.map((a) => a.status)).toEqual([401, 401, 401, 429, 429]);
      // Identical to the byte, Retry-After included (it depends on the rule alone, never on timing).
      expect(forUnknown).toEqual(forReal);
      expect(forReal[3]!.body.error.code).toBe('rate_limited');
      // 3 attempts per 15 minutes: one comes back every 300 s.
      expect(forReal[3]!.retryAfter).toBe('300');
      expect(forReal[0]!.retryAfter).toBeNull();
      // Once limited, even the right password is refused: the limit is no oracle.
      expect((await signIn(real.username, PASSWORD, from())).status).toBe(429);
    });

    it('a successful sign-in clears its username’s failures', async () => {
      const u = await t.api.signUp('forgetful');
      const ip = from();
      expect((await signIn(u.username, 'wrong one', ip)).status).toBe(401);
      expect((await signIn(u.username, 'wrong two', ip)).status).toBe(401);
      expect((await signIn(u.username, PASSWORD, ip)).status).toBe(201);
      expect((await signIn(u.username, 'wrong three', ip)).status).toBe(401);
      expect((await signIn(u.username, 'wrong four', ip)).status).toBe(401);
      expect((await signIn(u.username, PASSWORD, ip)).status).toBe(201);
    });

    it('one address spraying many usernames is limited per address', async () => {
      const ip = from();
      const statuses = [];
      for (let i = 0; i < 8; i++) statuses.push((await signIn(`spray_${i}`, 'password guess', ip)).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429, 429]);
      // Another address is not affected.
      expect((await signIn('spray_0', 'password guess', from())).status).toBe(401);
    });

    it('successful sign-ins do not use up an address (many people share one NAT)', async () => {
      const ip = from();
      const people = [];
      for (let i = 0; i < 3; i++) people.push(await t.api.signUp(`nat${i}`));
      for (let round = 0; round < 3; round++) {
        for (const p of people) expect((await signIn(p.username, PASSWORD, ip)).status).toBe(201);
      }
    });

    it('IPv6 clients are limited per /64, so rotating through one’s own prefix does not help', async () => {
      const statuses = [];
      for (let i = 1; i <= 8; i++) statuses.push((await signIn(`v6spray_${i}`, 'password guess', { 'x-forwarded-for': `2001:db8:77:1::${i.toString(16)}` })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429, 429]);
      expect((await signIn('v6spray_1', 'password guess', { 'x-forwarded-for': '2001:db8:77:2::1' })).status).toBe(401);
    });

    it('usernames are limited case-insensitively', async () => {
      const u = await t.api.signUp('casey');
      for (const name of [u.username, u.username.toUpperCase(), u.username]) expect((await signIn(name, 'nope nope', from())).status).toBe(401);
      expect((await signIn(u.username.toUpperCase(), 'nope nope', from())).status).toBe(429);
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`send rate limits [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect, { sendsPerMinute: 3 });
    });
    afterAll(async () => t?.close());

    it('a user past sendsPerMinute gets 429 rate_limited with Retry-After, over HTTP and the socket; others are not affected', async () => {
      const a = await t.api.signUp('chatty');
      const b = await t.api.signUp('quiet');
      const conv = (await t.api.post('/v1/conversations', { type: 'group', title: 'limits', memberIds: [] }, a.token)).body.id;
      const body = (i: number) => ({ clientId: `s${i}`, kind: 'message', content: { encoding: 'plain', data: '{}' } });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await t.api.post(`/v1/conversations/${conv}/messages`, body(i), a.token)).status);
      expect(statuses).toEqual([201, 201, 201]);
      const limited = await t.api.post(`/v1/conversations/${conv}/messages`, body(3), a.token);
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // A retry of an already-acked send is not a new send: it still gets its ack.
      expect((await t.api.post(`/v1/conversations/${conv}/messages`, body(0), a.token)).status).toBe(200);

      const { client } = await WsClient.connect(t.wsUrl, a.token);
      client.send({ type: 'send', reqId: 'over', conversationId: conv, ...body(4) });
      const err = await client.next('error', (f) => f.reqId === 'over');
      expect(err.error.code).toBe('rate_limited');
      client.close();

      const other = (await t.api.post('/v1/conversations', { type: 'group', title: 'mine', memberIds: [] }, b.token)).body.id;
      expect((await t.api.post(`/v1/conversations/${other}/messages`, body(0), b.token)).status).toBe(201);
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`connection requests per day [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect, { requestsPerDay: 2 });
    });
    afterAll(async () => t?.close());

    it('a user may open requestsPerDay new connection requests a day, then 429 until midnight UTC; repeats and answers do not count', async () => {
      const spammer = await t.api.signUp('collector');
      const targets = [];
      for (let i = 0; i < 4; i++) targets.push(await t.api.signUp(`target${i}`));
      const ask = (to: { id: string }) => t.api.post(`/v1/connections/${to.id}`, undefined, spammer.token);
      expect((await ask(targets[0]!)).status).toBe(200);
      expect((await ask(targets[0]!)).status).toBe(200);
      // Someone who asked first is answered, not requested: that is free.
      await t.api.post(`/v1/connections/${spammer.id}`, undefined, targets[3]!.token);
      expect((await ask(targets[3]!)).body).toEqual({ state: 'connected' });
      expect((await ask(targets[1]!)).status).toBe(200);
      const over = await ask(targets[2]!);
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe('rate_limited');
      const retryAfter = Number(over.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(86_400);
      const incoming = await t.api.get('/v1/connections?state=incoming', targets[2]!.token);
      expect(incoming.body.connections).toEqual([]);
    });
  });
}

async function redisUp(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const REDIS = await redisUp();
if (!REDIS && IN_CI) throw new Error(`CI=true but Redis is not reachable at ${REDIS_URL}`);

describe.skipIf(!REDIS)('RedisRateLimiter against a real Redis', () => {
  const rules: Record<RateRule, BucketSpec> = {
    signInUsername: { capacity: 3, windowMs: 60_000 },
    signInAddress: { capacity: 10, windowMs: 60_000 },
    send: { capacity: 10, windowMs: 60_000 },
    typing: { capacity: 2, windowMs: 400 },
  };
  const prefix = `parley:test:${process.pid}:${Math.random().toString(36).slice(2)}:`;
  const limiters: RedisRateLimiter[] = [];
  const limiter = () => {
    const l = new RedisRateLimiter(rules, REDIS_URL, prefix);
    limiters.push(l);
    return l;
  };
  afterAll(async () => {
    const admin = new Redis(REDIS_URL);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
    for (const l of limiters) await l.close();
  });

  it('allows the capacity, then refuses with rate_limited and a Retry-After', async () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) await l.take('signInUsername', 'alice');
    const err = await l.take('signInUsername', 'alice').catch((e) => e);
    expect(err.code).toBe('rate_limited');
    expect(err.retryAfter).toBe(20);
    // Other keys and rules are independent.
    await l.take('signInUsername', 'bob');
    await l.take('signInAddress', 'alice');
  });

  it('check says whether a take would pass, without taking', async () => {
    const l = limiter();
    for (let i = 0; i < 5; i++) await l.check('signInUsername', 'hugo');
    for (let i = 0; i < 3; i++) await l.take('signInUsername', 'hugo');
    await expect(l.check('signInUsername', 'hugo')).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('reset forgets a key', async () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) await l.take('signInUsername', 'carol');
    await expect(l.take('signInUsername', 'carol')).rejects.toMatchObject({ code: 'rate_limited' });
    await l.reset('signInUsername', 'carol');
    await l.take('signInUsername', 'carol');
  });

  it('is atomic: of many concurrent takes from two processes, exactly the capacity succeed', async () => {
    const [a, b] = [limiter(), limiter()];
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take('send', 'dave')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.code === 'rate_limited')).toBe(true);
  });

  it('refills over time', async () => {
    const l = limiter();
    await l.take('typing', 'erin');
    await l.take('typing', 'erin');
    await expect(l.take('typing', 'erin')).rejects.toMatchObject({ code: 'rate_limited' });
    // Two tokens per 400 ms: one is back after 200 ms.
    await new Promise((r) => setTimeout(r, 450));
    await l.take('typing', 'erin');
  });

  it('buckets expire once full again, so Redis does not grow without bound', async () => {
    const l = limiter();
    await l.take('typing', 'frank');
    const admin = new Redis(REDIS_URL);
    const ttl = await admin.pttl(`${prefix}typing:frank`);
    admin.disconnect();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1200);
  });

  it('answers 503 unavailable, quickly, when Redis is unreachable', async () => {
    const l = new RedisRateLimiter(rules, 'redis://127.0.0.1:1');
    const err = await l.take('send', 'gina').catch((e) => e);
    await l.close();
    expect(err.code).toBe('unavailable');
  });

  for (const dialect of DIALECTS.slice(0, 1)) {
    it(`two servers sharing one Redis share the sign-in buckets [${dialect}]`, async () => {
      const shared = () => new RedisRateLimiter(rateRules(testConfig({ signInPerUsername: 2 })), REDIS_URL, prefix);
      const one = await startTestServer(dialect, {}, { limits: shared() });
      const two = await startTestServer(dialect, {}, { limits: shared() });
      try {
        const name = `shared_${Math.random().toString(36).slice(2, 10)}`;
        expect((await one.api.post('/v1/sessions', { username: name, password: 'guess guess' })).status).toBe(401);
        expect((await two.api.post('/v1/sessions', { username: name, password: 'guess guess' })).status).toBe(401);
        const third = await one.api.post('/v1/sessions', { username: name, password: 'guess guess' });
        expect(third.status).toBe(429);
        expect(third.body.error.code).toBe('rate_limited');
        expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      } finally {
        await one.close();
        await two.close();
        await one.server.ctx.limits.close();
        await two.server.ctx.limits.close();
      }
    });
  }
});
