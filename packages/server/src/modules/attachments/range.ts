import type { ByteRange } from './blob-store.ts';

export type RangeAnswer = { kind: 'full' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' };

const SPEC = /^(\d*)-(\d*)$/;

/**
 * Interpret a `Range` header against a representation of `size` bytes (RFC 9110 §14).
 * One range is served as 206; a header we do not understand, or several ranges, is
 * ignored and the whole body sent, which the RFC allows (and spares us multipart).
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (!header) return { kind: 'full' };
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!match) return { kind: 'full' };
  const specs = match[1]!.split(',').map((s) => s.trim()).filter(Boolean);
  if (specs.length !== 1) return { kind: 'full' };
  const spec = SPEC.exec(specs[0]!);
  if (!spec) return { kind: 'full' };
  const [, first, last] = spec;
  if (first === '' && last === '') return { kind: 'full' };
  const firstN = first === '' ? undefined : Number(first);
  const lastN = last === '' ? undefined : Number(last);
  if ((firstN !== undefined && !Number.isSafeInteger(firstN)) || (lastN !== undefined && !Number.isSafeInteger(lastN))) {
    return { kind: 'full' };
  }
  if (firstN === undefined) {
    // A suffix: the last N bytes.
    if (lastN === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(0, size - lastN!), end: size - 1 } };
  }
  if (lastN !== undefined && lastN < firstN) return { kind: 'full' };
  if (firstN >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start: firstN, end: lastN === undefined ? size - 1 : Math.min(lastN, size - 1) } };
}

/** `Content-Disposition` with an ASCII fallback and the exact name in RFC 8187 form. */
export function contentDisposition(type: 'inline' | 'attachment', filename: string | null): string {
  if (!filename) return type;
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const exact = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${exact}`;
}
