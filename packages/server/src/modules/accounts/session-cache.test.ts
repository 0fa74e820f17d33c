import { describe, expect, it } from 'vitest';
import { SESSION_RECHECK_MS, SessionCache } from './session-cache.ts';

const alice = { userId: 'u1', sessionId: 's1' };
const bob = { userId: 'u2', sessionId: 's2' };

describe('SessionCache', () => {
  it('caches nothing until it hears revocations', () => {
    const cache = new SessionCache();
    cache.put('h1', alice, 0, 0, cache.begin());
    expect(cache.get('h1', 1)).toBeUndefined();
    cache.enable();
    cache.put('h1', alice, 0, 0, cache.begin());
    expect(cache.get('h1', 1)?.caller).toEqual(alice);
  });

  it('forgets a dropped session at once, and only that one', () => {
    const cache = new SessionCache();
    cache.enable();
    cache.put('h1', alice, 0, 0, cache.begin());
    cache.put('h2', bob, 0, 0, cache.begin());
    cache.drop('s1');
    expect(cache.get('h1', 1)).toBeUndefined();
    expect(cache.get('h2', 1)?.caller).toEqual(bob);
    cache.drop('unknown');
    expect(cache.size).toBe(1);
  });

  it('refuses a lookup that a revocation overtook (the database may have answered before the delete)', () => {
    const cache = new SessionCache();
    cache.enable();
    const generation = cache.begin();
    cache.drop('s1');
    cache.put('h1', alice, 0, 0, generation);
    expect(cache.get('h1', 1)).toBeUndefined();
    // A lookup begun after the drop is cached.
    cache.put('h1', alice, 0, 0, cache.begin());
    expect(cache.get('h1', 1)?.caller).toEqual(alice);
  });

  it('asks the database again once an entry is older than the recheck interval', () => {
    const cache = new SessionCache();
    cache.enable();
    cache.put('h1', alice, 1_000, 1_000, cache.begin());
    expect(cache.get('h1', 1_000 + SESSION_RECHECK_MS)).toBeDefined();
    expect(cache.get('h1', 1_001 + SESSION_RECHECK_MS)).toBeUndefined();
  });

  it('stays within its bound, evicting the oldest entry', () => {
    const cache = new SessionCache(2);
    cache.enable();
    cache.put('h1', alice, 0, 0, cache.begin());
    cache.put('h2', bob, 0, 0, cache.begin());
    cache.put('h3', { userId: 'u3', sessionId: 's3' }, 0, 0, cache.begin());
    expect(cache.size).toBe(2);
    expect(cache.get('h1', 1)).toBeUndefined();
    expect(cache.get('h3', 1)).toBeDefined();
    // The evicted entry's session index went with it: dropping it touches nothing else.
    cache.drop('s1');
    expect(cache.size).toBe(2);
  });

  it('a token whose session changed hands replaces its old entry', () => {
    const cache = new SessionCache();
    cache.enable();
    cache.put('h1', alice, 0, 0, cache.begin());
    cache.put('h1', bob, 0, 0, cache.begin());
    cache.drop('s1');
    expect(cache.get('h1', 1)?.caller).toEqual(bob);
  });
});
