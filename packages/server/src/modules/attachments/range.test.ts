import { describe, expect, it } from 'vitest';
import { contentDisposition, parseRange } from './range.ts';

describe('parseRange', () => {
  const size = 1000;
  it('serves everything without a usable header', () => {
    for (const h of [undefined, '', 'items=0-5', 'bytes=', 'bytes=-', 'bytes=abc', 'bytes=5-2', 'bytes=0-1,5-9', 'bytes=1e3-']) {
      expect(parseRange(h, size), String(h)).toEqual({ kind: 'full' });
    }
  });
  it('reads first-last, open-ended and suffix ranges', () => {
    expect(parseRange('bytes=0-99', size)).toEqual({ kind: 'partial', range: { start: 0, end: 99 } });
    expect(parseRange('bytes=990-', size)).toEqual({ kind: 'partial', range: { start: 990, end: 999 } });
    expect(parseRange('bytes=-10', size)).toEqual({ kind: 'partial', range: { start: 990, end: 999 } });
    expect(parseRange('bytes=-5000', size)).toEqual({ kind: 'partial', range: { start: 0, end: 999 } });
    expect(parseRange('bytes=500-99999', size)).toEqual({ kind: 'partial', range: { start: 500, end: 999 } });
    expect(parseRange('Bytes = 7-7', size)).toEqual({ kind: 'partial', range: { start: 7, end: 7 } });
  });
  it('answers unsatisfiable past the end, for an empty suffix and for an empty file', () => {
    expect(parseRange('bytes=1000-', size)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=1000-2000', size)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', size)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-1', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('contentDisposition', () => {
  it('keeps an ASCII fallback and the exact UTF-8 name', () => {
    expect(contentDisposition('attachment', null)).toBe('attachment');
    expect(contentDisposition('inline', 'cat.png')).toBe(`inline; filename="cat.png"; filename*=UTF-8''cat.png`);
    expect(contentDisposition('attachment', 'résumé "final".pdf')).toBe(
      `attachment; filename="r_sum_ _final_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf`,
    );
  });
});
