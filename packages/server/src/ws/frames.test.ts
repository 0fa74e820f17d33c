import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { frameBytes, textFrame } from './frames.ts';

/** ws's own framing, the reference: what `ws.send(buffer, { binary: false })` writes on a server socket. */
const Sender = (createRequire(import.meta.url)('ws') as { Sender: unknown }).Sender as {
  frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[];
};
const reference = (payload: Buffer) => Buffer.concat(Sender.frame(payload, { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }));

describe('textFrame', () => {
  // Each length form and its edges: 7-bit, 16-bit and 64-bit lengths.
  for (const n of [0, 1, 125, 126, 127, 1000, 65535, 65536, 70000]) {
    it(`frames ${n} bytes exactly as ws does`, () => {
      const payload = Buffer.alloc(n, 'é'.charCodeAt(0) % 256);
      const frame = textFrame(payload);
      expect(frame.bytes.equals(reference(payload))).toBe(true);
      expect(frame.payload.equals(payload)).toBe(true);
    });

    it(`frames a string of ${n} UTF-8 bytes exactly as ws does`, () => {
      // Two-byte characters: the length in the header counts bytes, not characters.
      const text = 'é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2);
      const frame = textFrame(text);
      expect(frame.bytes.equals(reference(Buffer.from(text)))).toBe(true);
      expect(frame.payload.toString('utf8')).toBe(text);
      expect(frameBytes(text).equals(frame.bytes)).toBe(true);
    });
  }
});
