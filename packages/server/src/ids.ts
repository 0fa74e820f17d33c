import { hash, randomBytes, randomFillSync } from 'node:crypto';

let lastMs = 0;
let counter = 0;

/** Random bytes drawn 4 KiB at a time: one syscall per 512 ids instead of one per id. */
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;

function random8(into: Buffer, at: number): void {
  if (poolOffset + 8 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(into, at, poolOffset, poolOffset + 8);
  // Used bytes are wiped: no later id, and nothing reading the pool, sees them again.
  pool.fill(0, poolOffset, poolOffset + 8);
  poolOffset += 8;
}

/** Where ids are put together: their 16 bytes, and their 36 characters of text. */
const idBytes = Buffer.alloc(16);
const idText = Buffer.alloc(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * The 16 bytes of `idBytes` as a UUID's text, decoded from one buffer: a flat string. V8
 * keeps a string put together from pieces (`randomUUID()`'s, or a template of slices) as a
 * rope, and every comparison with another string — a socket's id against an event's
 * origin, a topic in a Map — walks it character by character.
 */
function formatUuid(): string {
  let o = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) idText[o++] = 0x2d;
    const v = idBytes[i]!;
    idText[o++] = HEX[v >> 4]!;
    idText[o++] = HEX[v & 0x0f]!;
  }
  return idText.toString('latin1');
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by
 * creation time. Within one millisecond a 12-bit counter keeps this process's ids in order.
 */
export function uuidv7(now = Date.now()): string {
  if (now <= lastMs) {
    counter++;
    if (counter > 0xfff) {
      lastMs++;
      counter = 0;
    }
    now = lastMs;
  } else {
    lastMs = now;
    counter = 0;
  }
  random8(idBytes, 8);
  idBytes.writeUIntBE(now, 0, 6);
  idBytes[6] = 0x70 | (counter >> 8);
  idBytes[7] = counter & 0xff;
  idBytes[8] = 0x80 | (idBytes[8]! & 0x3f);
  return formatUuid();
}

/** A random UUID (version 4, RFC 9562), as a flat string: what names a socket. */
export function uuidv4(): string {
  random8(idBytes, 0);
  random8(idBytes, 8);
  idBytes[6] = 0x40 | (idBytes[6]! & 0x0f);
  idBytes[8] = 0x80 | (idBytes[8]! & 0x3f);
  return formatUuid();
}

/**
 * `s` as one flat string (see `formatUuid`): for a string put together once and compared
 * often. JSON's round trip keeps every string as it was, lone surrogates included.
 */
export const flat = (s: string): string => JSON.parse(JSON.stringify(s)) as string;

/** 256 random bits, URL-safe: session tokens, invite tokens. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * What is stored of such a token: its SHA-256, hex. One-shot `crypto.hash`: it runs on every
 * authenticated request, and a Hash object costs about 2.5 times as much.
 */
export const tokenHash = (token: string): string => hash('sha256', token);

export const nowIso = (ms = Date.now()) => new Date(ms).toISOString();
