import { Redis } from 'ioredis';
import { AppError } from '../../errors.ts';
import { retryAfterOf, type BucketSpec, type RateLimiter, type RateRule } from './rate-limiter.ts';

/**
 * The token bucket as one Lua script, so that take-and-refill is atomic across every server
 * process sharing this Redis. Time comes from Redis itself: server clocks may disagree.
 * Returns {allowed (0/1), milliseconds until a token is back}.
 */
const TAKE = `
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local consume = ARGV[3] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = capacity / window
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  if not consume then
    return {1, 0}
  end
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
-- A bucket that has refilled carries no information: let it expire.
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return {allowed, wait}
`;

type RedisWithTake = Redis & { parleyTake(key: string, capacity: number, windowMs: number, consume: 0 | 1): Promise<[number, number]> };

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: RedisWithTake;
  private readonly ownsClient: boolean;

  /** `redis`: a URL (a client of our own, closed by close()) or a client someone else owns. */
  constructor(
    private readonly rules: Record<RateRule, BucketSpec>,
    redis: string | Redis,
    private readonly prefix = 'parley:rl:',
  ) {
    // A limiter that cannot reach Redis must answer quickly (503), not queue requests forever.
    const client = typeof redis === 'string' ? new Redis(redis, { maxRetriesPerRequest: 1, commandTimeout: 2000, enableOfflineQueue: true, lazyConnect: false }) : redis;
    this.ownsClient = typeof redis === 'string';
    client.defineCommand('parleyTake', { numberOfKeys: 1, lua: TAKE });
    // Connection errors surface on the commands that fail; the client reconnects on its own.
    if (this.ownsClient) client.on('error', () => {});
    this.redis = client as RedisWithTake;
  }

  take(rule: RateRule, key: string): Promise<void> {
    return this.spend(rule, key, 1);
  }

  check(rule: RateRule, key: string): Promise<void> {
    return this.spend(rule, key, 0);
  }

  private async spend(rule: RateRule, key: string, consume: 0 | 1): Promise<void> {
    const spec = this.rules[rule];
    let result: [number, number];
    try {
      result = await this.redis.parleyTake(this.key(rule, key), spec.capacity, spec.windowMs, consume);
    } catch (cause) {
      throw new AppError('unavailable', 'rate limiting is unavailable; try again shortly', { cause, retryAfter: 1 });
    }
    if (result[0] !== 1) throw new AppError('rate_limited', 'too many requests; slow down', { retryAfter: retryAfterOf(spec) });
  }

  async reset(rule: RateRule, key: string): Promise<void> {
    try {
      await this.redis.del(this.key(rule, key));
    } catch (cause) {
      throw new AppError('unavailable', 'rate limiting is unavailable; try again shortly', { cause, retryAfter: 1 });
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private key(rule: RateRule, key: string): string {
    return `${this.prefix}${rule}:${key}`;
  }
}
