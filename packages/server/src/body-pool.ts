import type { FastifyReply } from 'fastify';

/**
 * Memory for big response bodies (history pages: tens of KB to megabytes), used again from
 * one response to the next instead of allocated fresh for each.
 *
 * Node frees a Buffer's memory only when the garbage collector finds the Buffer dead, and a
 * server that sends megabytes between two collections gets most of that memory from the
 * system anew: every 4 KiB page of it is a page fault on first write. On this project's
 * virtual machine a fault costs ~15 µs, and a catch-up of 5,000 envelopes (2.3 MB) spent
 * ~9 ms of its ~45 ms in them (docs/PERFORMANCE.md, the seventh pass). A body written into
 * memory that is already the process's costs a copy (~0.1 ms for 2 MB) and no fault.
 *
 * A slab goes back to the pool only when its response has finished: Node emits `finish`
 * once the last byte was handed to the operating system, so nothing reads the slab after.
 * A response that never finishes (the client went away) keeps its slab, and the garbage
 * collector frees it as any Buffer. Handing a slab out while its bytes are still on their
 * way would send one user's messages in another's response: `give` accepts only a slab
 * `take` handed out and not yet given back.
 */
export class BodyPool {
  /** Free slabs by size (powers of two, `MIN_SLAB` to `MAX_SLAB`). */
  readonly #free = new Map<number, Buffer[]>();
  readonly #out = new WeakSet<Buffer>();
  #freeBytes = 0;

  constructor(
    /** Free slabs kept at most, in bytes: memory a burst took is given back to the collector beyond this. */
    readonly retainBytes = 32 * 1024 * 1024,
  ) {}

  /** A slab of at least `bytes` (its size a power of two); a body beyond MAX_SLAB gets memory of its own, never pooled. */
  take(bytes: number): Buffer {
    if (bytes > MAX_SLAB) return Buffer.allocUnsafeSlow(bytes);
    let size = MIN_SLAB;
    while (size < bytes) size *= 2;
    const slab = this.#free.get(size)?.pop();
    if (slab) this.#freeBytes -= size;
    const taken = slab ?? Buffer.allocUnsafeSlow(size);
    this.#out.add(taken);
    return taken;
  }

  /** Back to the pool, once nothing reads it any more. A slab the pool did not hand out (or already has) is ignored. */
  give(slab: Buffer): void {
    if (!this.#out.has(slab)) return;
    this.#out.delete(slab);
    if (this.#freeBytes + slab.length > this.retainBytes) return;
    let list = this.#free.get(slab.length);
    if (!list) this.#free.set(slab.length, (list = []));
    list.push(slab);
    this.#freeBytes += slab.length;
  }

  /** Bytes of free slabs held. */
  get freeBytes(): number {
    return this.#freeBytes;
  }
}

const MIN_SLAB = 64 * 1024;
const MAX_SLAB = 16 * 1024 * 1024;

/** Below this a body is sent as a string: Node writes it from its stack without an allocation. */
const SMALL_BODY = 16 * 1024;

/** The pool of this process's responses. */
export const bodies = new BodyPool();

/** The UTF-8 bytes of `pieces`, counted character by character (~0.5 ns each). */
function utf8Bytes(pieces: readonly string[]): number {
  let bytes = 0;
  for (const piece of pieces) bytes += Buffer.byteLength(piece);
  return bytes;
}

/**
 * Send `pieces` (JSON text, in order) as one `application/json` body: written into a slab
 * of `pool`, which it gets back when the response has finished. The pieces stay separate
 * until then (joined, a megabyte body would be one more string to allocate and copy).
 *
 * `utf8Length`, when the caller's source counted it (SQLite knows a page's bytes as it
 * stores the text: history.ts), is the pieces' UTF-8 length, used instead of counting every
 * character again (~0.5 ns each). As many bytes as characters means every character is
 * ASCII, one byte each: the body is then copied rather than encoded (~0.05 ns a character
 * against ~0.2). A body encoded to another length than the one given (text that was not what
 * its source counted) is sent as one string instead, whole.
 */
export function sendJsonPieces(reply: FastifyReply, pieces: readonly string[], utf8Length?: number, pool: BodyPool = bodies): FastifyReply {
  reply.type('application/json; charset=utf-8');
  let chars = 0;
  for (const piece of pieces) chars += piece.length;
  const ascii = utf8Length === chars;
  const bytes = utf8Length ?? utf8Bytes(pieces);
  if (bytes < SMALL_BODY) return reply.send(pieces.join(''));
  // A byte to spare: text longer than counted then shows as more bytes written, not as a cut.
  const slab = pool.take(bytes + 1);
  let at = 0;
  for (const piece of pieces) at += slab.write(piece, at, ascii ? 'latin1' : 'utf8');
  if (at !== bytes) {
    pool.give(slab);
    return reply.send(pieces.join(''));
  }
  reply.raw.once('finish', () => pool.give(slab));
  return reply.send(slab.subarray(0, bytes));
}
