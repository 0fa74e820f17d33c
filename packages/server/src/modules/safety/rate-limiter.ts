import type { Config } from '../../config/config.ts';
import { AppError } from '../../errors.ts';

/** The limits Parley enforces, each a token bucket: `capacity` tokens, refilled over `windowMs`. */
export type RateRule = 'signInUsername' | 'signInAddress' | 'send' | 'typing';

export interface BucketSpec {
  capacity: number;
  windowMs: number;
}

/**
 * The Retry-After of a refused take: the time one token takes to come back, in whole
 * seconds. Always that, not the exact remainder: the answer then depends on the rule alone,
 * never on how long earlier attempts took (a refused sign-in must not tell a real username
 * from an unknown one by its timing), and waiting it out always finds a token.
 */
export const retryAfterOf = (spec: BucketSpec) => Math.max(1, Math.ceil(spec.windowMs / spec.capacity / 1000));

export function rateRules(config: Config): Record<RateRule, BucketSpec> {
  return {
    signInUsername: { capacity: config.signInPerUsername, windowMs: 15 * 60_000 },
    signInAddress: { capacity: config.signInPerAddress, windowMs: 15 * 60_000 },
    send: { capacity: config.sendsPerMinute, windowMs: 60_000 },
    typing: { capacity: config.typingPerMinute, windowMs: 60_000 },
  };
}

/**
 * One interface, two implementations: in memory (one process) and Redis (shared by every
 * process behind a load balancer).
 */
export interface RateLimiter {
  /** Take one token for `key` under `rule`, or throw `rate_limited` with the seconds to wait. */
  take(rule: RateRule, key: string): Promise<void>;
  /** Throw `rate_limited` as take would, without taking (for limits that count only failures). */
  check(rule: RateRule, key: string): Promise<void>;
  /** Forget a key (a successful sign-in clears its username's failures). */
  reset(rule: RateRule, key: string): Promise<void>;
  /** Release what the limiter holds (a Redis connection). */
  close(): Promise<void>;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private sweeps = 0;

  constructor(
    private readonly rules: Record<RateRule, BucketSpec>,
    private readonly now: () => number = Date.now,
  ) {}

  async take(rule: RateRule, key: string): Promise<void> {
    this.spend(rule, key, true);
  }

  async check(rule: RateRule, key: string): Promise<void> {
    this.spend(rule, key, false);
  }

  private spend(rule: RateRule, key: string, consume: boolean): void {
    const spec = this.rules[rule];
    const id = `${rule}:${key}`;
    const now = this.now();
    const rate = spec.capacity / spec.windowMs;
    const bucket = this.buckets.get(id) ?? { tokens: spec.capacity, at: now };
    bucket.tokens = Math.min(spec.capacity, bucket.tokens + (now - bucket.at) * rate);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(id, bucket);
      throw new AppError('rate_limited', 'too many requests; slow down', { retryAfter: retryAfterOf(spec) });
    }
    if (!consume) return;
    bucket.tokens -= 1;
    this.buckets.set(id, bucket);
    if (++this.sweeps % 10_000 === 0) this.sweep(now);
  }

  async reset(rule: RateRule, key: string): Promise<void> {
    this.buckets.delete(`${rule}:${key}`);
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }

  /** Full buckets carry no information: drop them so memory stays bounded. */
  private sweep(now: number): void {
    for (const [id, bucket] of this.buckets) {
      const rule = id.slice(0, id.indexOf(':')) as RateRule;
      const spec = this.rules[rule];
      if (bucket.tokens + (now - bucket.at) * (spec.capacity / spec.windowMs) >= spec.capacity) this.buckets.delete(id);
    }
  }
}
