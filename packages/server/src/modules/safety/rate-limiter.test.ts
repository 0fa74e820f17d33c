import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.ts';
import { MemoryRateLimiter } from './rate-limiter.ts';

const rules = {
  signInUsername: { capacity: 3, windowMs: 60_000 },
  signInAddress: { capacity: 100, windowMs: 60_000 },
  send: { capacity: 2, windowMs: 1000 },
  typing: { capacity: 1, windowMs: 1000 },
};

describe('MemoryRateLimiter', () => {
  it('allows the capacity, then refuses with rate_limited and a Retry-After', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter(rules, () => now);
    await limiter.take('signInUsername', 'alice');
    await limiter.take('signInUsername', 'alice');
    await limiter.take('signInUsername', 'alice');
    const err = await limiter.take('signInUsername', 'alice').catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe('rate_limited');
    expect(err.retryAfter).toBe(20);
    // Other keys and other rules are independent.
    await limiter.take('signInUsername', 'bob');
    now += 20_000;
    await limiter.take('signInUsername', 'alice');
  });

  it('check refuses as take would, without taking', async () => {
    const limiter = new MemoryRateLimiter(rules, () => 0);
    for (let i = 0; i < 5; i++) await limiter.check('signInUsername', 'carol');
    for (let i = 0; i < 3; i++) await limiter.take('signInUsername', 'carol');
    await expect(limiter.check('signInUsername', 'carol')).rejects.toMatchObject({ code: 'rate_limited', retryAfter: 20 });
  });

  it('reset forgets a key', async () => {
    const limiter = new MemoryRateLimiter(rules);
    await limiter.take('typing', 'x');
    await expect(limiter.take('typing', 'x')).rejects.toThrow();
    await limiter.reset('typing', 'x');
    await limiter.take('typing', 'x');
  });
});
