import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';

/**
 * Who is online, counted in sockets. `connect` and `disconnect` say whether the call was a
 * transition (first socket anywhere, last socket anywhere), so presence is announced once
 * per change however many devices and processes a user has.
 */
export interface PresenceStore {
  readonly kind: 'memory' | 'redis';
  /** True when this socket made the user online. */
  connect(userId: string): Promise<boolean>;
  /** True when this was the user's last socket anywhere. */
  disconnect(userId: string): Promise<boolean>;
  onlineAmong(userIds: string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

/** One process: a count of sockets per user. */
export class MemoryPresenceStore implements PresenceStore {
  readonly kind = 'memory' as const;
  private readonly sockets = new Map<string, number>();

  async connect(userId: string): Promise<boolean> {
    const n = (this.sockets.get(userId) ?? 0) + 1;
    this.sockets.set(userId, n);
    return n === 1;
  }

  async disconnect(userId: string): Promise<boolean> {
    const n = (this.sockets.get(userId) ?? 0) - 1;
    if (n > 0) {
      this.sockets.set(userId, n);
      return false;
    }
    return this.sockets.delete(userId);
  }

  async onlineAmong(userIds: string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => this.sockets.has(id)));
  }

  async close(): Promise<void> {
    this.sockets.clear();
  }
}

/**
 * The sockets a user has on each process live in one Redis hash per user (field: process
 * id, value: sockets). A process proves it is alive with a key it refreshes; the counts of a
 * process that died without cleaning up stop counting once that key expires, and are
 * swept by the next script that reads the hash. If Redis lost its data, a process notices
 * (its liveness key is gone) and writes its counts back.
 */
const LIVE_TOTAL = `
local function live(key, prefix)
  local fields = redis.call('HGETALL', key)
  local total = 0
  for i = 1, #fields, 2 do
    if redis.call('EXISTS', prefix .. fields[i]) == 1 then
      total = total + tonumber(fields[i + 1])
    else
      redis.call('HDEL', key, fields[i])
    end
  end
  return total
end
`;

/** KEYS[1]: the user's hash; ARGV: process id, delta, liveness key prefix → {before, after}. */
const CHANGE = `${LIVE_TOTAL}
local before = live(KEYS[1], ARGV[3])
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return {before, live(KEYS[1], ARGV[3])}
`;

/** KEYS: users' hashes; ARGV[1]: liveness key prefix → live totals, in order. */
const TOTALS = `${LIVE_TOTAL}
local out = {}
for i = 1, #KEYS do out[i] = live(KEYS[i], ARGV[1]) end
return out
`;

export interface RedisPresenceOptions {
  prefix?: string;
  /** How long a silent process still counts as alive. */
  ttlMs?: number;
  log?: FastifyBaseLogger;
}

export class RedisPresenceStore implements PresenceStore {
  readonly kind = 'redis' as const;
  readonly processId = randomUUID();
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly local = new Map<string, number>();
  private readonly refresher: NodeJS.Timeout;
  private readonly started: Promise<void>;
  private whenReady: Promise<void> | null = null;

  constructor(url: string, options: RedisPresenceOptions = {}) {
    this.prefix = options.prefix ?? 'parley:presence:';
    this.ttlMs = options.ttlMs ?? 15_000;
    // Without Redis, presence degrades (commands fail after a short wait) rather than
    // holding sockets hostage or queueing without bound.
    this.redis = new Redis(url, { maxRetriesPerRequest: null, enableOfflineQueue: false, retryStrategy: (n) => Math.min(n * 100, 2000) });
    this.redis.on('error', (err) => options.log?.warn({ err }, 'redis presence connection error'));
    this.redis.on('ready', () => {
      this.whenReady = null;
    });
    // A failed first refresh is retried by the timer (the liveness key is still missing then).
    this.started = this.refresh().catch((err) => options.log?.warn({ err }, 'presence store could not reach redis'));
    this.refresher = setInterval(() => {
      this.refresh().catch((err) => options.log?.warn({ err }, 'presence refresh failed'));
    }, Math.floor(this.ttlMs / 3));
    this.refresher.unref();
  }

  private get aliveKey() {
    return `${this.prefix}process:${this.processId}`;
  }

  private userKey(userId: string) {
    return `${this.prefix}user:${userId}`;
  }

  /** Wait a little for a (re)connecting Redis, then fail. */
  private async connected(): Promise<void> {
    if (this.redis.status === 'ready') return;
    this.whenReady ??= new Promise((resolve) => this.redis.once('ready', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 2_000);
    });
    const outcome = await Promise.race([this.whenReady, gaveUp]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new Error(`presence store unavailable (${this.redis.status})`);
  }

  private async refresh(): Promise<void> {
    await this.connected();
    const extended = await this.redis.pexpire(this.aliveKey, this.ttlMs);
    if (extended === 1) return;
    // First start, or Redis lost its data: (re)announce this process and its sockets.
    const batch = this.redis.multi().set(this.aliveKey, '1', 'PX', this.ttlMs);
    for (const [userId, n] of this.local) batch.hset(this.userKey(userId), this.processId, String(n));
    await batch.exec();
  }

  private async change(userId: string, delta: 1 | -1): Promise<[number, number]> {
    await this.started;
    const n = (this.local.get(userId) ?? 0) + delta;
    if (n > 0) this.local.set(userId, n);
    else this.local.delete(userId);
    await this.connected();
    const [before, after] = (await this.redis.eval(CHANGE, 1, this.userKey(userId), this.processId, String(delta), `${this.prefix}process:`)) as [number, number];
    return [before, after];
  }

  async connect(userId: string): Promise<boolean> {
    const [before, after] = await this.change(userId, 1);
    return before === 0 && after > 0;
  }

  async disconnect(userId: string): Promise<boolean> {
    const [before, after] = await this.change(userId, -1);
    return before > 0 && after === 0;
  }

  async onlineAmong(userIds: string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    await this.started;
    await this.connected();
    const totals = (await this.redis.eval(TOTALS, userIds.length, ...userIds.map((id) => this.userKey(id)), `${this.prefix}process:`)) as number[];
    return new Set(userIds.filter((_, i) => (totals[i] ?? 0) > 0));
  }

  async close(): Promise<void> {
    clearInterval(this.refresher);
    // Sockets still counted here are gone with this process.
    await this.redis.del(this.aliveKey).catch(() => {});
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}

export const _assertStores = (m: MemoryPresenceStore, r: RedisPresenceStore) => [m satisfies PresenceStore, r satisfies PresenceStore];
