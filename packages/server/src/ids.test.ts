import { describe, expect, it } from 'vitest';
import { flat, randomToken, uuidv4, uuidv7 } from './ids.ts';

describe('ids', () => {
  it('uuidv7 sorts by creation, even within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('uuidv7 carries its millisecond in its first 48 bits', () => {
    const at = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
    const id = uuidv7(at);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
  });

  it('uuidv4 is random, of version 4 and the RFC variant', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv4());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Every random hex digit takes every value: no byte is left out of the randomness.
    for (const at of [0, 9, 15, 20, 35]) expect(new Set(ids.map((id) => id[at])).size).toBe(16);
  });

  it('flat keeps every string as it was', () => {
    for (const s of ['', 'user:' + uuidv4(), 'é😀ß', 'lone \ud800 surrogate', 'a\u0000b', '"quoted" \\ back']) expect(flat(s)).toBe(s);
  });

  it('tokens carry 256 bits', () => {
    expect(Buffer.from(randomToken(), 'base64url')).toHaveLength(32);
  });
});
