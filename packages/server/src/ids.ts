import { hash, randomBytes, randomFillSync } from 'node:crypto';

let lastMs = 0;
let counter = 0;

/** Random bytes drawn 4 KiB at a time: one syscall per 512 ids instead of one per id. */
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;

function random8(into: Buffer): void {
  if (poolOffset + 8 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(into, 8, poolOffset, poolOffset + 8);
  // Used bytes are wiped: no later id, and nothing reading the pool, sees them again.
  pool.fill(0, poolOffset, poolOffset + 8);
  poolOffset += 8;
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
  const b = Buffer.alloc(16);
  random8(b);
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

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
