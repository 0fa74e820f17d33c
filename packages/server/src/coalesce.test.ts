import { describe, expect, it } from 'vitest';
import { coalesce } from './coalesce.ts';

describe('coalesce', () => {
  it('writes the writes of one turn in one batch, a key once with its latest value', async () => {
    const batches: [string, number][][] = [];
    const write = coalesce<string, number>(async (batch) => {
      batches.push([...batch]);
    });
    await Promise.all([write('a', 1), write('b', 2), write('a', 3)]);
    expect(batches).toEqual([
      [
        ['a', 3],
        ['b', 2],
      ],
    ]);
  });

  it('collects what arrives while a batch commits into the next one, and settles each write with its batch', async () => {
    const batches: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const write = coalesce<string, true>(async (batch) => {
      batches.push([...batch.keys()]);
      if (batches.length === 1) await gate;
    });
    const first = write('a', true);
    // Wait until the first batch is committing, then write more.
    while (batches.length === 0) await new Promise((r) => setImmediate(r));
    let secondSettled = false;
    const second = write('b', true).then(() => (secondSettled = true));
    const third = write('c', true);
    expect(secondSettled).toBe(false);
    release();
    await Promise.all([first, second, third]);
    expect(batches).toEqual([['a'], ['b', 'c']]);
  });

  it('a failed batch rejects its own writes only; the next batch goes on', async () => {
    let calls = 0;
    const write = coalesce<string, number>(async () => {
      calls++;
      if (calls === 1) throw new Error('disk full');
    });
    await expect(write('a', 1)).rejects.toThrow('disk full');
    await expect(write('b', 2)).resolves.toBeUndefined();
  });
});
