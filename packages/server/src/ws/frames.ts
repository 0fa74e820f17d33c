/**
 * A WebSocket text frame as this server sends it (RFC 6455 §5.2): FIN set, opcode 1, no
 * mask (a server never masks), the payload length in the shortest form. Unmasked, the
 * bytes are the same for every socket, so an event that reaches many sockets is framed
 * once and each socket gets one write of the same Buffer (through `ws`, every send builds
 * its header again and writes header and payload apart).
 */
export interface TextFrame {
  /** Header and payload. */
  readonly bytes: Buffer;
  /** The payload alone (a view into `bytes`). */
  readonly payload: Buffer;
}

export function textFrame(payload: string | Buffer): TextFrame {
  const bytes = frameBytes(payload);
  return { bytes, payload: bytes.subarray(bytes[1]! < 126 ? 2 : bytes[1] === 126 ? 4 : 10) };
}

/** The bytes of a text frame of `payload`, header and payload in one Buffer. */
export function frameBytes(payload: string | Buffer): Buffer {
  // A string is encoded straight into the frame: no Buffer of the payload alone, no second copy.
  const n = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const bytes = Buffer.allocUnsafe(header + n);
  bytes[0] = 0x81;
  if (n < 126) bytes[1] = n;
  else if (n < 65536) {
    bytes[1] = 126;
    bytes.writeUInt16BE(n, 2);
  } else {
    bytes[1] = 127;
    bytes.writeBigUInt64BE(BigInt(n), 2);
  }
  if (typeof payload === 'string') bytes.write(payload, header);
  else payload.copy(bytes, header);
  return bytes;
}
