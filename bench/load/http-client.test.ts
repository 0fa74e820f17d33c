import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, HttpStatusError } from './http-client.ts';

describe('the W5 generator HTTP client', () => {
  let server: http.Server;
  let client: HttpClient;
  const connections = new Set<unknown>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      connections.add(req.socket);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const url = new URL(req.url!, 'http://x');
        if (url.pathname === '/big') {
          // Written in pieces over time, as a big answer arrives in many reads.
          const size = Number(url.searchParams.get('size'));
          const all = Buffer.alloc(size, 'a');
          all.write('{"n":', 0);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': size });
          let at = 0;
          const next = () => {
            const end = Math.min(size, at + 70_000);
            res.write(all.subarray(at, end));
            at = end;
            if (at < size) setImmediate(next);
            else res.end();
          };
          next();
          return;
        }
        if (url.pathname === '/echo') {
          const text = JSON.stringify({ method: req.method, auth: req.headers.authorization ?? null, body: body ? JSON.parse(body) : null });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
          return;
        }
        if (url.pathname === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('no length');
          res.end();
          return;
        }
        res.writeHead(404, { 'content-length': 9 });
        res.end('not found');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new HttpClient(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
  afterAll(async () => {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends method, token and JSON body, and hands the answer to use()', async () => {
    const got = await client.request('POST', '/echo', 'tok', { a: 'é' }, (b) => JSON.parse(b.toString('utf8')));
    expect(got).toEqual({ method: 'POST', auth: 'Bearer tok', body: { a: 'é' } });
    expect(await client.request('GET', '/echo', undefined, undefined, (b) => JSON.parse(b.toString('utf8')))).toEqual({ method: 'GET', auth: null, body: null });
  });

  it('reads a body of many reads whole, several at once, and keeps connections for the next requests', async () => {
    const sizes = [1, 1000, 65_535, 65_536, 300_001, 2_000_000];
    const before = connections.size;
    const lengths = await Promise.all(sizes.map((size) => client.request('GET', `/big?size=${size}`, undefined, undefined, (b) => ({ length: b.length, all: b.subarray(5).every((x) => x === 0x61) }))));
    expect(lengths).toEqual(sizes.map((size) => ({ length: size, all: true })));
    const opened = connections.size - before;
    // Again: the same connections, kept alive.
    await Promise.all(sizes.map((size) => client.request('GET', `/big?size=${size}`, undefined, undefined, (b) => b.length)));
    expect(connections.size - before).toBe(opened);
  });

  it('a body is the same bytes whatever was read before it into the same memory', async () => {
    await client.request('GET', '/big?size=500000', undefined, undefined, () => null);
    const text = await client.request('POST', '/echo', undefined, { small: true }, (b) => b.toString('utf8'));
    expect(JSON.parse(text)).toEqual({ method: 'POST', auth: null, body: { small: true } });
  });

  it('refuses a status other than 200 (HttpStatusError) and an answer without a content-length', async () => {
    await expect(client.request('GET', '/nope', undefined, undefined, () => null)).rejects.toBeInstanceOf(HttpStatusError);
    await expect(client.request('GET', '/chunked', undefined, undefined, () => null)).rejects.toThrow(/does not read/);
    // The client goes on working after both.
    expect(await client.request('GET', '/echo', undefined, undefined, (b) => JSON.parse(b.toString()).method)).toBe('GET');
  });

  it('an error thrown by use() rejects the request and leaves the connection usable', async () => {
    await expect(client.request('GET', '/echo', undefined, undefined, () => { throw new Error('bad page'); })).rejects.toThrow('bad page');
    expect(await client.request('GET', '/echo', undefined, undefined, (b) => JSON.parse(b.toString()).method)).toBe('GET');
  });
});
