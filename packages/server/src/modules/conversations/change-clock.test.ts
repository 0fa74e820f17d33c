import { describe, expect, it } from 'vitest';
import { ChangeClock, decodeCursor, encodeCursor } from './change-clock.ts';

describe('change clock', () => {
  it('never hands out a cursor at or past a write still in flight', async () => {
    const clock = new ChangeClock(0);
    let release!: () => void;
    let stampOf = '';
    const pending = clock.write(async (stamp) => {
      stampOf = stamp;
      await new Promise<void>((r) => (release = r));
    });
    await new Promise((r) => setTimeout(r, 20));
    const during = decodeCursor(clock.cursor());
    expect(during < stampOf).toBe(true);
    release();
    await pending;
    await new Promise((r) => setTimeout(r, 5));
    expect(decodeCursor(clock.cursor()) >= stampOf).toBe(true);
  });

  it('re-reads the configured overlap when other processes write too', () => {
    const now = Date.now();
    const ms = Date.parse(decodeCursor(new ChangeClock(2000).cursor()));
    expect(now - ms).toBeGreaterThanOrEqual(2000);
    expect(now - ms).toBeLessThan(3000);
  });

  it('refuses cursors it did not issue', () => {
    for (const bad of ['', 'x', 'c1.', 'c1.!!', 'c2.abc', `c1.${'z'.repeat(40)}`]) expect(() => decodeCursor(bad)).toThrow(/cursor/);
    expect(decodeCursor(encodeCursor(0))).toBe('1970-01-01T00:00:00.000Z');
  });
});
