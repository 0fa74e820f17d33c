import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

/**
 * Structural limits on everything a client sends, checked before any schema or handler
 * sees it. The schemas in @parley/protocol carry the per-field limits (a username's
 * length, a page size); these are the outer walls that keep hostile input from costing
 * memory or CPU out of proportion: a JSON body nested ten thousand levels deep, a list
 * of a hundred thousand ids, a key named `__proto__`.
 */
export const INPUT_LIMITS = {
  /** Largest JSON request body. The biggest legitimate one is a 64 KiB payload, base64'd. */
  bodyBytes: 256 * 1024,
  /** Deepest nesting of arrays and objects in a JSON body or a WebSocket frame. */
  depth: 32,
  /** Longest string anywhere in a request (the largest field, an MLS payload, is ~88k). */
  stringChars: 100_000,
  /** Longest array anywhere in a request (the largest field, memberIds, allows 200). */
  arrayItems: 1000,
  /** Most keys in one JSON object. */
  objectKeys: 256,
} as const;

export type InputLimits = { [K in keyof typeof INPUT_LIMITS]: number };

/**
 * Keys that mean something to JavaScript's object model. No field of the API is named
 * like this, and code that merges client objects (spread, Object.assign, deep merge)
 * must never meet one.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Their lengths: a key of another length is not looked up (most keys of a frame or body). */
const FORBIDDEN_KEY_LENGTHS = [...new Set([...FORBIDDEN_KEYS].map((k) => k.length))];

/** An object's keys are kept in a list up to this many, in a Set past it (`scanJson`). */
const KEYS_LISTED = 16;


const refuse = (limit: string, message: string, data: Record<string, unknown> = {}) =>
  new AppError('invalid_request', message, { data: { limit, ...data } });

/**
 * One linear pass over JSON text that refuses nesting deeper than the limit and an
 * object that repeats a key, before JSON.parse builds anything. Duplicate keys are a
 * parser-differential hazard: a proxy or a client library that keeps the first value
 * and this server that keeps the last would disagree about what was sent.
 * Syntax errors are left to JSON.parse; this pass only needs to never misjudge a valid text.
 */
export function scanJson(text: string, limits: Pick<InputLimits, 'depth'> = INPUT_LIMITS): void {
  // For each open container: the keys seen so far (objects) or null (arrays). A list while
  // the object is small (every frame and body the API takes: a search of a few keys costs
  // less than hashing each into a Set), a Set once it has many (no quadratic search).
  const stack: (string[] | Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      // The string's closing quote: the next quote not escaped, i.e. preceded by an even
      // number of backslashes. indexOf runs natively, where a loop over every character
      // walked a long payload (an MLS ciphertext of 88k characters) one by one.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return; // unterminated: JSON.parse will say so
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === 0x5c /* \ */) slashes++;
        if ((slashes & 1) === 0) break;
      }
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        let escaped = false;
        for (let k = start + 1; k < i && !escaped; k++) escaped = text.charCodeAt(k) === 0x5c;
        let key: string;
        if (!escaped) key = text.slice(start + 1, i);
        else {
          try {
            key = JSON.parse(text.slice(start, i + 1)) as string;
          } catch {
            return; // malformed: JSON.parse will say so
          }
        }
        if (FORBIDDEN_KEY_LENGTHS.includes(key.length) && FORBIDDEN_KEYS.has(key)) throw refuse('forbidden_key', `the key "${key}" is not allowed`, { key });
        if (Array.isArray(keys) ? keys.includes(key) : keys.has(key)) throw refuse('duplicate_key', `the key "${key}" appears twice in one object`, { key });
        if (!Array.isArray(keys)) keys.add(key);
        else if (keys.length < KEYS_LISTED) keys.push(key);
        else stack[stack.length - 1] = new Set(keys).add(key);
      }
      expectKey = false;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? [] : null);
      if (stack.length > limits.depth) throw refuse('depth', `JSON nested deeper than ${limits.depth} levels`, { max: limits.depth });
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
}

/**
 * Walk a parsed value (a body, a query, path params, a frame) and refuse strings that are
 * too long, not well-formed UTF-16 (a lone surrogate cannot be stored as UTF-8) or hold a
 * NUL (PostgreSQL text cannot), and lists and objects that are too large.
 */
export function checkValue(value: unknown, where: string, limits: InputLimits = INPUT_LIMITS, depth = 0): void {
  walk(value, [where], limits, depth);
}

/** The field a refusal names: `where.key.0.key`, built only when something is refused. */
const fieldOf = (path: readonly (string | number)[]) => path.join('.');

/** Same as checkValue, with the path as segments (joined only for an error: a valid value allocates no path strings). */
function walk(value: unknown, path: (string | number)[], limits: InputLimits, depth: number): void {
  if (typeof value === 'string') return checkString(value, path, limits);
  if (value === null || typeof value !== 'object') return;
  if (depth >= limits.depth) throw refuse('depth', `nested deeper than ${limits.depth} levels`, { max: limits.depth });
  if (Array.isArray(value)) {
    if (value.length > limits.arrayItems) {
      const where = fieldOf(path);
      throw refuse('array', `${where}: more than ${limits.arrayItems} items`, { field: where, max: limits.arrayItems });
    }
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      walk(value[i], path, limits, depth + 1);
      path.pop();
    }
    return;
  }
  const keys = Object.keys(value);
  if (keys.length > limits.objectKeys) {
    const where = fieldOf(path);
    throw refuse('keys', `${where}: more than ${limits.objectKeys} keys`, { field: where, max: limits.objectKeys });
  }
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key)) {
      const where = fieldOf(path);
      throw refuse('forbidden_key', `${where}: the key "${key}" is not allowed`, { field: where, key });
    }
    checkString(key, path, limits, ' key');
    path.push(key);
    walk((value as Record<string, unknown>)[key], path, limits, depth + 1);
    path.pop();
  }
}

/** `suffix`: ' key' when the string is a key of the object at `path`. */
function checkString(value: string, path: readonly (string | number)[], limits: InputLimits, suffix = ''): void {
  if (value.length > limits.stringChars) {
    const where = fieldOf(path) + suffix;
    throw refuse('string', `${where}: longer than ${limits.stringChars} characters`, { field: where, max: limits.stringChars });
  }
  if (value.includes('\u0000')) {
    const where = fieldOf(path) + suffix;
    throw refuse('nul', `${where}: may not contain NUL characters`, { field: where });
  }
  // A lone surrogate (ES2024's isWellFormed: a one-byte string answers at once, where a
  // regular expression walked every character of every string of every frame).
  if (!value.isWellFormed()) {
    const where = fieldOf(path) + suffix;
    throw refuse('unicode', `${where}: is not well-formed Unicode (lone surrogate)`, { field: where });
  }
}

/** Parse JSON text under every limit above; throws AppError('invalid_request'). For HTTP bodies and WebSocket frames alike. */
export function parseJsonStrict(text: string, where = 'body', limits: InputLimits = INPUT_LIMITS): unknown {
  scanJson(text, limits);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError('invalid_request', `${where}: not valid JSON (${(err as Error).message})`, { data: { field: where } });
  }
  checkValue(value, where, limits);
  return value;
}

/** Decode bytes that must be UTF-8, refusing anything else instead of replacing it silently. */
export function decodeUtf8(bytes: Buffer, where = 'body'): string {
  if (!isUtf8(bytes)) throw refuse('utf8', `${where}: is not valid UTF-8`, { field: where });
  return bytes.toString('utf8');
}

/** Only UTF-8 JSON: a body that declares another charset is refused rather than misread. */
function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return match?.[1]?.toLowerCase();
}

/**
 * Install the limits on an app: the JSON body parser (UTF-8, depth, duplicate and
 * forbidden keys, sizes) and a check of query strings and path params, which Fastify
 * parses itself.
 */
export function installInputLimits(app: FastifyInstance, limits: InputLimits = INPUT_LIMITS): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: limits.bodyBytes }, (req: FastifyRequest, body: Buffer, done) => {
    try {
      const charset = charsetOf(req.headers['content-type']);
      if (charset && charset !== 'utf-8' && charset !== 'utf8') {
        throw new AppError('unsupported_media_type', `JSON bodies must be UTF-8, not ${charset}`);
      }
      // Many clients send `Content-Type: application/json` on every request, with or without a
      // body: an empty body is no body. A route that needs one still answers 400 from its schema.
      if (body.length === 0) return done(null, undefined);
      done(null, parseJsonStrict(decodeUtf8(body), 'body', limits));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addHook('preValidation', (req, _reply, done) => {
    try {
      checkValue(req.query, 'querystring', limits);
      checkValue(req.params, 'params', limits);
    } catch (err) {
      return done(err as Error);
    }
    done();
  });
}
