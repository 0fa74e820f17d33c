/**
 * Hostile input against every route of the real app: generated and mutated bodies, query
 * strings, path params and headers. The answer is never a 5xx; an error always carries a
 * stable code from ERROR_CODES with its own status; the server stays up.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INPUT_LIMITS } from '../../src/http/limits.ts';
import { DIALECTS, startTestServer, type TestServer } from '../harness.ts';
import { attackedRoutes, declaredAuthMismatches, fillPath, ROUTES, routeKey, unclassified, type Fixture } from './routes.ts';
import { expectWellFormedAnswer, send, soak } from './support.ts';

const OPERATOR_TOKEN = 'operator-token-for-the-hostile-suite';

/** Strings that have broken servers before. */
const NASTY = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff', '\u202e', '\ufeff', '💥', 'é'.normalize('NFD'),
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  '../../../../etc/passwd', '..%2f..%2f', '%00', '%', '%ff', "' or '1'='1", '"; drop table users; --', '\\', '$where',
  '<script>alert(1)</script>', '${7*7}', '{{7*7}}', 'null', 'undefined', 'NaN', '-1', '1e309', '0x10', '9007199254740993',
  'x'.repeat(65), 'x'.repeat(513), 'x'.repeat(70_000),
];

/** Percent-encode the UTF-8 bytes of any string (encodeURIComponent throws on a lone surrogate). */
const percentEncode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

const hostileString = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.constantFrom(-1, 0, 1.5, Number.MAX_SAFE_INTEGER + 2, -0, 1e308),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 5 }),
  fc.constant(Array.from({ length: 1500 }, (_, i) => `id${i}`)),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
);

type Mutation = { op: 'set' | 'delete' | 'add' | 'wrap' | 'replace'; pick: number; key: string; value: unknown };

function mutate(sample: unknown, m: Mutation): unknown {
  if (m.op === 'replace' || sample === null || typeof sample !== 'object') return m.value;
  if (m.op === 'wrap') return [sample];
  const obj = structuredClone(sample) as Record<string, unknown>;
  const keys = Object.keys(obj);
  const key = keys.length ? keys[m.pick % keys.length]! : m.key;
  if (m.op === 'set') obj[key] = m.value;
  else if (m.op === 'delete') delete obj[key];
  else obj[m.key] = m.value;
  return obj;
}

type Body =
  | { kind: 'mutated'; mutation: Mutation }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'deep'; depth: number }
  | { kind: 'duplicate' }
  | { kind: 'proto'; key: string }
  | { kind: 'huge'; size: number }
  | { kind: 'none' };

const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('mutated' as const), mutation: fc.record({ op: fc.constantFrom('set', 'delete', 'add', 'wrap', 'replace'), pick: fc.nat(), key: hostileString, value: hostileValue }) }), weight: 6 },
  fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 4 }) }),
  fc.record({ kind: fc.constant('text' as const), text: fc.oneof(fc.string(), fc.constantFrom('{', '{"a":', '[1,]', '{"a":1}}', 'nul', '1 2', '{"a":1,}', '\ufeff{}')) }),
  fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('deep' as const), depth: fc.integer({ min: INPUT_LIMITS.depth - 1, max: 20_000 }) }),
  fc.record({ kind: fc.constant('duplicate' as const) }),
  fc.record({ kind: fc.constant('proto' as const), key: fc.constantFrom('__proto__', 'constructor', 'prototype') }),
  fc.record({ kind: fc.constant('huge' as const), size: fc.integer({ min: INPUT_LIMITS.bodyBytes - 1000, max: INPUT_LIMITS.bodyBytes * 2 }) }),
  fc.record({ kind: fc.constant('none' as const) }),
);

function render(body: Body, sample: unknown): string | Uint8Array | undefined {
  switch (body.kind) {
    case 'mutated':
      return JSON.stringify(mutate(sample ?? {}, body.mutation)) ?? 'null';
    case 'json':
      return JSON.stringify(body.value);
    case 'text':
      return body.text;
    case 'bytes':
      return body.bytes;
    case 'deep':
      return '{"a":'.repeat(body.depth) + '1' + '}'.repeat(body.depth);
    case 'duplicate': {
      const text = JSON.stringify(sample ?? { a: 1 });
      return text.length > 2 ? `${text.slice(0, -1)},${text.slice(1)}` : '{"a":1,"a":2}';
    }
    case 'proto':
      return `{"${body.key}":{"isAdmin":true},"x":1}`;
    case 'huge':
      return JSON.stringify({ data: 'x'.repeat(body.size) });
    case 'none':
      return undefined;
  }
}

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'APPLICATION/JSON',
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/jsonx', '*/*', '',
];

for (const dialect of DIALECTS) {
  describe(`hostile input against every route [${dialect}]`, () => {
    let t: TestServer;
    let routes: ReturnType<typeof attackedRoutes>;
    let fx: Fixture;
    let token: string;
    const realIds: string[] = [];

    beforeAll(async () => {
      t = await startTestServer(dialect, { operatorToken: OPERATOR_TOKEN });
      routes = attackedRoutes(t.server.app.routeTable);
      const me = await t.api.signUp('fuzz');
      const other = await t.api.signUp('other');
      token = me.token;
      fx = { otherUserId: other.id, conversationId: other.id, messageId: other.id };
      const conv = await t.api.post('/v1/conversations', { type: 'group', title: 'fuzzed', memberIds: [other.id] }, token);
      if (conv.status === 201) {
        fx.conversationId = conv.body.id;
        const msg = await t.api.post(`/v1/conversations/${conv.body.id}/messages`, ROUTES['POST /v1/conversations/:id/messages']!.body!(fx), token);
        if (msg.status === 201) fx.messageId = msg.body.id;
      }
      realIds.push(me.id, other.id, fx.conversationId, fx.messageId);
    });
    afterAll(async () => t?.close());

    it('knows every route of the app: each is classified, with the auth its class implies', () => {
      expect(routes.length).toBeGreaterThan(10);
      expect(unclassified(t.server.app.routeTable), 'add these routes to test/adversarial/routes.ts').toEqual([]);
      expect(declaredAuthMismatches(t.server.app.routeTable)).toEqual([]);
    });

    it('answers generated hostile requests on every route with a 4xx and a stable code, never a 5xx', async () => {
      const paramArb = fc.oneof(
        { arbitrary: fc.constantFrom(...realIds), weight: 3 },
        hostileString.map(percentEncode),
        fc.constantFrom('%ff', '%', '%%', '..', '%2e%2e', 'a%2fb', 'x'.repeat(300)),
      );
      const authArb = fc.constantFrom('valid', 'valid', 'valid', 'none', 'garbage', 'long', 'lowercase', 'basic', 'extra', 'operator');
      const extraHeaderArb = fc.option(
        fc.tuple(
          fc.constantFrom('x-forwarded-for', 'origin', 'accept', 'accept-encoding', 'content-encoding', 'transfer-encoding', 'cookie', 'x-http-method-override', 'if-none-match', 'range', 'expect'),
          fc.constantFrom('', 'gzip', 'deflate, br', '*/*', 'null', 'https://evil.example', '1.2.3.4, 999.999.999.999', 'x'.repeat(4000), 'bytes=0-1,5-', 'DELETE', 'chunked', '100-continue', 'a=b; c=d'),
        ),
        { nil: undefined },
      );
      const queryArb = fc.array(fc.tuple(fc.oneof(fc.constantFrom('limit', 'cursor', 'after', 'before', 'query', 'folder', 'state', '__proto__', 'a[b]', 'a[]'), hostileString), hostileString), { maxLength: 4 });
      await fc.assert(
        fc.asyncProperty(fc.nat(), paramArb, authArb, queryArb, bodyArb, fc.constantFrom(...CONTENT_TYPES), extraHeaderArb, async (routeIndex, param, auth, query, body, contentType, extra) => {
          const route = routes[routeIndex % routes.length]!;
          const spec = ROUTES[routeKey(route)];
          const url = fillPath(route.url, () => param);
          const qs = query.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&');
          const headers: Record<string, string> = {};
          const authorization = {
            valid: `Bearer ${token}`, none: undefined, garbage: 'Bearer garbage', long: `Bearer ${'x'.repeat(600)}`, lowercase: `bearer ${token}`,
            basic: 'Basic dXNlcjpwYXNz', extra: `Bearer ${token} extra`, operator: `Bearer ${OPERATOR_TOKEN}`,
          }[auth];
          if (authorization) headers.authorization = authorization;
          const hasBody = route.method !== 'GET' && route.method !== 'HEAD';
          const payload = hasBody ? render(body, spec?.body?.(fx)) : undefined;
          if (payload !== undefined && contentType) headers['content-type'] = contentType;
          // fetch itself refuses to send some of these (transfer-encoding, expect): that is the client's choice, not an answer.
          if (extra && !['transfer-encoding', 'expect'].includes(extra[0])) headers[extra[0]] = extra[1];
          const res = await send(t.url, route.method, qs ? `${url}?${qs}` : url, { headers, body: payload });
          expectWellFormedAnswer(res, `${route.method} ${url}?${qs.slice(0, 100)} [${auth}, ${contentType}, ${body.kind}, ${extra?.[0]}: ${extra?.[1].slice(0, 40)}]`);
        }),
        { numRuns: soak(400, 5000) },
      );
      expect((await t.api.get('/v1/health')).status).toBe(200);
    }, soak(300_000, 3_600_000));

    it('refuses each input limit on every route that takes a body, with its own clear error', async () => {
      const withBody = routes.filter((r) => r.body && !ROUTES[routeKey(r)]?.raw);
      expect(withBody.length).toBeGreaterThan(5);
      const cases: [string, string | Uint8Array, string, number, string, string?][] = [
        ['depth', '['.repeat(INPUT_LIMITS.depth + 1) + ']'.repeat(INPUT_LIMITS.depth + 1), 'application/json', 400, 'invalid_request', 'depth'],
        ['size', JSON.stringify({ data: 'x'.repeat(INPUT_LIMITS.bodyBytes) }), 'application/json', 413, 'too_large'],
        ['duplicate key', '{"a":1,"a":2}', 'application/json', 400, 'invalid_request', 'duplicate_key'],
        ['__proto__', '{"__proto__":{"admin":true}}', 'application/json', 400, 'invalid_request', 'forbidden_key'],
        ['invalid UTF-8', Uint8Array.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'application/json', 400, 'invalid_request', 'utf8'],
        ['NUL', '{"a":"\\u0000"}', 'application/json', 400, 'invalid_request', 'nul'],
        ['lone surrogate', '{"a":"\\ud800"}', 'application/json', 400, 'invalid_request', 'unicode'],
        ['long list', JSON.stringify({ a: new Array(INPUT_LIMITS.arrayItems + 1).fill(1) }), 'application/json', 400, 'invalid_request', 'array'],
        ['long string', JSON.stringify({ a: 'x'.repeat(INPUT_LIMITS.stringChars + 1) }), 'application/json', 400, 'invalid_request', 'string'],
        ['latin1 charset', '{}', 'application/json; charset=latin1', 415, 'unsupported_media_type'],
        ['not JSON', '{"a":', 'application/json', 400, 'invalid_request'],
      ];
      for (const route of withBody) {
        const url = fillPath(route.url, () => fx.conversationId);
        const authorization = route.auth === 'operator' ? `Bearer ${OPERATOR_TOKEN}` : `Bearer ${token}`;
        for (const [name, payload, contentType, status, code, limit] of cases) {
          const res = await send(t.url, route.method, url, { headers: { authorization, 'content-type': contentType }, body: payload });
          const context = `${route.method} ${route.url}: ${name}`;
          expectWellFormedAnswer(res, context);
          expect(res.status, `${context}: ${res.text.slice(0, 200)}`).toBe(status);
          const parsed = JSON.parse(res.text) as { error: { code: string; data?: { limit?: string } } };
          expect(parsed.error.code, context).toBe(code);
          if (limit) expect(parsed.error.data?.limit, context).toBe(limit);
        }
      }
    }, 180_000);

    it('refuses NUL, lone surrogates and oversized lists in query strings and path params', async () => {
      for (const [path, limit] of [
        ['/v1/users?query=a%00b', 'nul'],
        [`/v1/users?${Array.from({ length: INPUT_LIMITS.arrayItems + 1 }, () => 'query=a').join('&')}`, 'array'],
        ['/v1/users/a%00b', 'nul'],
        ['/v1/users/%ff', undefined],
        [`/v1/users/${'x'.repeat(1000)}`, undefined],
      ] as const) {
        const res = await send(t.url, 'GET', path, { headers: { authorization: `Bearer ${token}` } });
        expectWellFormedAnswer(res, path);
        expect(res.status, path).toBe(400);
        if (limit) expect(JSON.parse(res.text).error.data.limit, path).toBe(limit);
      }
    });

    it('answers malformed HTTP and oversized headers in the API error shape, and stays up', async () => {
      const raw = (request: string) =>
        new Promise<string>((resolve) => {
          const { port, hostname } = new URL(t.url);
          const socket = connect(Number(port), hostname, () => socket.write(request));
          let data = '';
          socket.on('data', (d) => (data += d.toString('latin1')));
          socket.on('close', () => resolve(data));
          socket.on('error', () => resolve(data));
          socket.setTimeout(5000, () => socket.destroy());
        });
      const malformed = await raw('GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
      expect(malformed).toMatch(/^HTTP\/1\.1 400/);
      expect(malformed).toContain('"code":"invalid_request"');
      const garbage = await raw('\u0000\u0001\u0002 NOT HTTP\r\n\r\n');
      expect(garbage).toMatch(/^HTTP\/1\.1 400/);
      const headers = await raw(`GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(headers).toMatch(/^HTTP\/1\.1 431/);
      expect(headers).toContain('"code":"headers_too_large"');
      expect((await t.api.get('/v1/health')).status).toBe(200);
    });
  });
}
