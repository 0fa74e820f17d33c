/**
 * W5's HTTP/1.1 client: keep-alive connections that read into one fixed buffer each
 * (`net`'s `onread`), bodies gathered into memory used again from one response to the next.
 *
 * Node's `http` client reads every chunk into a fresh allocation, freed only when the
 * collector finds it dead: between two collections a catch-up's 2.3 MB of answers was
 * fresh memory, faulted in page by page (~290 faults per thousand rows in the generator,
 * ~15 µs each here), and the generator, not the server, set W5's pace in some runs. This
 * client speaks only what Parley answers: a status line, headers, and a body of the
 * declared `content-length` (a chunked or length-less answer is refused, not guessed at).
 */
import net from 'node:net';
import { BodyPool } from '../../packages/server/src/body-pool.ts';

export class HttpStatusError extends Error {}

const READ_BUFFER = 64 * 1024;
const HEADERS_MAX = 16 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Memory for bodies, used again (the server's own pool of response memory: a body is valid
 * only during the `use` call it is handed to). A thousand devices at once hold a thousand
 * bodies of ~45 KB: room for them all is kept.
 */
const scratch = new BodyPool(128 * 1024 * 1024);

interface Pending {
  headLength: number;
  status: number;
  body: Buffer | null;
  length: number;
  filled: number;
  done: (err: Error | null, status?: number, body?: Buffer) => void;
}

class Connection {
  readonly socket: net.Socket;
  private pending: Pending | null = null;
  /** The answer's status line and headers, gathered until the blank line. */
  private readonly head = Buffer.allocUnsafeSlow(HEADERS_MAX);
  closed = false;

  constructor(
    host: string,
    port: number,
    private readonly onFree: (c: Connection) => void,
  ) {
    const into = Buffer.allocUnsafeSlow(READ_BUFFER);
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: into,
        callback: (n) => {
          this.read(into.subarray(0, n));
          return true;
        },
      },
    });
    const fail = (err: Error) => {
      this.closed = true;
      const p = this.pending;
      this.pending = null;
      p?.done(err);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  send(request: Buffer, done: Pending['done']): void {
    this.pending = { headLength: 0, status: 0, body: null, length: -1, filled: 0, done };
    this.socket.write(request);
  }

  private read(data: Buffer): void {
    const p = this.pending;
    if (!p) {
      this.socket.destroy(new Error('bytes with no request pending'));
      return;
    }
    let rest = data;
    if (p.length < 0) {
      // Still in the headers: gather them until the blank line.
      const take = Math.min(rest.length, HEADERS_MAX - p.headLength);
      rest.copy(this.head, p.headLength, 0, take);
      const seen = p.headLength;
      p.headLength += take;
      const end = this.head.subarray(0, p.headLength).indexOf(CRLFCRLF, Math.max(0, seen - 3));
      if (end < 0) {
        if (p.headLength >= HEADERS_MAX) this.socket.destroy(new Error('response headers too long'));
        return;
      }
      const headers = this.head.toString('latin1', 0, end);
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(headers);
      const length = /\r\ncontent-length: *(\d+)/i.exec(headers);
      if (!status || !length || /\r\ntransfer-encoding:/i.test(headers)) {
        this.socket.destroy(new Error(`an answer this client does not read: ${headers.slice(0, 200)}`));
        return;
      }
      p.status = Number(status[1]);
      p.length = Number(length[1]);
      p.body = scratch.take(p.length);
      rest = rest.subarray(end + 4 - seen);
    }
    if (p.filled + rest.length > p.length) {
      this.socket.destroy(new Error('more bytes than the content-length'));
      return;
    }
    rest.copy(p.body!, p.filled);
    p.filled += rest.length;
    if (p.filled < p.length) return;
    this.pending = null;
    const body = p.body!;
    try {
      p.done(null, p.status, body.subarray(0, p.length));
    } finally {
      scratch.give(body);
      this.onFree(this);
    }
  }
}

/** Keep-alive connections to one server, as many as requests in flight. */
export class HttpClient {
  private readonly free: Connection[] = [];
  private readonly all = new Set<Connection>();

  constructor(private readonly base: URL) {}

  /**
   * A request whose 200 body is handed to `use` (valid only during that call: its memory is
   * used again afterwards); what `use` returns is the answer. Any other status rejects with
   * HttpStatusError.
   */
  request<T>(method: 'GET' | 'POST', pathname: string, token: string | undefined, json: unknown, use: (body: Buffer) => T): Promise<T> {
    const payload = json === undefined ? null : Buffer.from(JSON.stringify(json));
    const head =
      `${method} ${pathname} HTTP/1.1\r\nhost: ${this.base.host}\r\n` +
      (token ? `authorization: Bearer ${token}\r\n` : '') +
      (payload ? `content-type: application/json\r\ncontent-length: ${payload.length}\r\n` : '') +
      '\r\n';
    const request = payload ? Buffer.concat([Buffer.from(head), payload]) : Buffer.from(head);
    return new Promise<T>((resolve, reject) => {
      let c = this.free.pop();
      while (c?.closed) c = this.free.pop();
      if (!c) {
        c = new Connection(this.base.hostname, Number(this.base.port), (done) => {
          if (!done.closed) this.free.push(done);
        });
        this.all.add(c);
      }
      c.send(request, (err, status, body) => {
        if (err) return reject(err);
        if (status !== 200) return reject(new HttpStatusError(`${method} ${pathname} → ${status} ${body!.subarray(0, 200).toString()}`));
        try {
          resolve(use(body!));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  close(): void {
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.free.length = 0;
  }
}
