import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { checkValue, INPUT_LIMITS, parseJsonStrict, scanJson } from '../../src/http/limits.ts';

const limitOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('invalid_request');
    return ((err as AppError).data?.limit as string | undefined) ?? 'syntax';
  }
};

/** JSON values within every limit, with no forbidden keys. */
const safeJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\u0000')),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string().filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k) && !k.includes('\u0000')), tie('value'), { maxKeys: 5 }),
  ),
})).value;

describe('input limits', () => {
  it('accepts every JSON value within the limits, exactly as JSON.parse reads it', () => {
    fc.assert(
      fc.property(safeJson, (value) => {
        const text = JSON.stringify(value);
        expect(parseJsonStrict(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but invalid_request on arbitrary text, and never hangs', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'binary' })), (text) => {
        limitOf(() => parseJsonStrict(text));
      }),
      { numRuns: 1000 },
    );
  }, 120_000);

  it('refuses nesting deeper than the limit, at the limit exactly', () => {
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(limitOf(() => parseJsonStrict(nest(INPUT_LIMITS.depth)))).toBeUndefined();
    expect(limitOf(() => parseJsonStrict(nest(INPUT_LIMITS.depth + 1)))).toBe('depth');
    expect(limitOf(() => parseJsonStrict('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)))).toBe('depth');
    // Brackets inside strings are not nesting.
    expect(limitOf(() => parseJsonStrict(JSON.stringify({ s: '['.repeat(1000) })))).toBeUndefined();
  });

  it('refuses duplicate keys, also when spelled with escapes, but not the same key in sibling objects', () => {
    expect(limitOf(() => scanJson('{"a":1,"a":2}'))).toBe('duplicate_key');
    expect(limitOf(() => scanJson('{"a":1,"\\u0061":2}'))).toBe('duplicate_key');
    expect(limitOf(() => scanJson('{"x":{"a":1},"y":{"a":1},"a":[{"a":1},{"a":2}]}'))).toBeUndefined();
    expect(limitOf(() => scanJson('[{"a":1},{"b":{"c":1}},{"a":2,"b":3}]'))).toBeUndefined();
    expect(limitOf(() => scanJson('{"a":"a","b":"a"}'))).toBeUndefined();
  });

  it('finds where a string ends past escaped quotes and backslashes', () => {
    // A value ending in an escaped backslash: its closing quote is real, the next key is a duplicate.
    expect(limitOf(() => scanJson('{"a":"x\\\\","a":1}'))).toBe('duplicate_key');
    expect(limitOf(() => scanJson('{"a":"\\"","a":1}'))).toBe('duplicate_key');
    // An escaped quote does not end the string: `"b":1` is inside it.
    expect(limitOf(() => scanJson('{"a":"\\",\\"a\\":1","b":1}'))).toBeUndefined();
    expect(limitOf(() => scanJson('{"k\\\\":1,"k\\\\":2}'))).toBe('duplicate_key');
    expect(limitOf(() => scanJson('{"k\\\\":1,"k":2}'))).toBeUndefined();
  });

  it('refuses a duplicate among many keys, and keeps each object\'s keys its own', () => {
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const object = (names: string[]) => `{${names.map((k) => `"${k}":0`).join(',')}}`;
    expect(limitOf(() => scanJson(object(keys)))).toBeUndefined();
    for (const at of [1, 10, 15, 16, 17, 39]) {
      expect(limitOf(() => scanJson(object([...keys.slice(0, at), keys[3]!, ...keys.slice(at)]))), String(at)).toBe('duplicate_key');
    }
    // A key from late in a long object, repeated at its end.
    for (const k of [16, 17, 30, 39]) expect(limitOf(() => scanJson(object([...keys, keys[k]!]))), String(k)).toBe('duplicate_key');
    // Big objects side by side and nested in each other, each with the same keys.
    expect(limitOf(() => scanJson(`[${object(keys)},${object(keys)}]`))).toBeUndefined();
    expect(limitOf(() => scanJson(`{"k0":${object(keys)},"k1":[${object(keys)}],"k2":${object(keys.slice(0, 3))}}`))).toBeUndefined();
    expect(limitOf(() => scanJson(`{"k0":${object(keys)},"k1":1,"k0":2}`))).toBe('duplicate_key');
    // A scan that threw leaves nothing behind for the next one.
    expect(limitOf(() => scanJson(`{"x":{"a":1,"a":2}}`))).toBe('duplicate_key');
    expect(limitOf(() => scanJson(`{"a":1}`))).toBeUndefined();
  });

  it('refuses any object given a key it already has, whatever its keys and values', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string().filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k) && !k.includes('\u0000')), safeJson, { minKeys: 1, maxKeys: 40 }),
        fc.nat(),
        (value, pick) => {
          const text = JSON.stringify(value);
          const names = Object.keys(value);
          expect(limitOf(() => scanJson(text))).toBeUndefined();
          const again = `${text.slice(0, -1)},${JSON.stringify(names[pick % names.length])}:null}`;
          expect(limitOf(() => scanJson(again))).toBe('duplicate_key');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses prototype-pollution keys at any depth', () => {
    for (const key of ['__proto__', 'constructor', 'prototype', '\\u005f_proto__']) {
      expect(limitOf(() => parseJsonStrict(`{"ok":[{"${key}":{"polluted":true}}]}`)), key).toBe('forbidden_key');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses NUL, lone surrogates, overlong strings, long lists and wide objects', () => {
    expect(limitOf(() => parseJsonStrict('{"a":"x\\u0000y"}'))).toBe('nul');
    expect(limitOf(() => parseJsonStrict('{"a":"\\ud800"}'))).toBe('unicode');
    expect(limitOf(() => parseJsonStrict('{"a":"\\udc00x"}'))).toBe('unicode');
    expect(limitOf(() => parseJsonStrict('{"a":"\\ud83d\\ude00"}'))).toBeUndefined();
    // Every way a surrogate can be alone, and pairs around it.
    for (const bad of ['\\ude00\\ud83d', 'x\\ud83d', '\\ud83d\\ude00\\ud83d', '\\ud83d\\ud83d\\ude00', 'é\\udfff', '\\ud83d\\ude00\\ude00']) {
      expect(limitOf(() => parseJsonStrict(`{"a":"${bad}"}`)), bad).toBe('unicode');
    }
    expect(limitOf(() => parseJsonStrict('{"a":"é\\ud83d\\ude00\\ud83c\\udf89x"}'))).toBeUndefined();
    expect(limitOf(() => parseJsonStrict(JSON.stringify({ a: 'x'.repeat(INPUT_LIMITS.stringChars + 1) })))).toBe('string');
    expect(limitOf(() => parseJsonStrict(JSON.stringify({ a: new Array(INPUT_LIMITS.arrayItems + 1).fill(0) })))).toBe('array');
    expect(limitOf(() => parseJsonStrict(JSON.stringify(Object.fromEntries(Array.from({ length: INPUT_LIMITS.objectKeys + 1 }, (_, i) => [`k${i}`, i])))))).toBe('keys');
    expect(limitOf(() => checkValue({ 'a\u0000': 1 }, 'query'))).toBe('nul');
  });
});
