/**
 * Hostile frames on the WebSocket: generated and mutated frames of every type, binary
 * frames, invalid UTF-8, deep nesting, duplicate and prototype keys, NUL and lone
 * surrogates, oversized frames. Each is answered by an error frame with a stable code
 * (never `internal`), the socket stays open, and it still answers ping with pong.
 */
import { ERROR_CODES, LIMITS } from '@parley/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INPUT_LIMITS } from '../../src/http/limits.ts';
import { DIALECTS, startTestServer, type TestServer } from '../harness.ts';
import { WsClient, type Frame } from '../realtime-client.ts';
import { soak } from './support.ts';

const NASTY = ['', '\u0000', 'a\u0000b', '\ud800', '__proto__', 'constructor', '💥', 'x'.repeat(70), 'x'.repeat(600), "' or 1=1 --", '../..'];
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string(),
  fc.integer(),
  fc.constantFrom(-1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
  fc.array(fc.string(), { maxLength: 40 }),
);

for (const dialect of DIALECTS) {
  describe(`hostile WebSocket frames [${dialect}]`, () => {
    let t: TestServer;
    let client: WsClient;
    let conversationId: string;
    let token: string;

    beforeAll(async () => {
      t = await startTestServer(dialect, { sendsPerMinute: 1_000_000, typingPerMinute: 1_000_000 });
      const me = await t.api.signUp('wsfuzz');
      const other = await t.api.signUp('wsother');
      token = me.token;
      await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, other.token);
      conversationId = (await t.api.post('/v1/conversations', { type: 'group', title: 'ws fuzz', memberIds: [other.id] }, token)).body.id;
      client = (await WsClient.connect(t.wsUrl, token)).client;
    });
    afterAll(async () => {
      client?.close();
      await t?.close();
    });

    /** Send raw data, then a ping: everything the server answered before the pong is the answer. */
    async function answerTo(data: string | Buffer, binary = false, reqId?: string): Promise<Frame[]> {
      client.frames.length = 0;
      client.ws.send(data, { binary });
      client.send({ type: 'ping' });
      await client.next('pong', undefined, 10_000);
      // Sends are answered after their commit, which may come after the pong.
      const late = reqId === undefined ? [] : [await client.next(undefined, (f) => (f.type === 'ack' || f.type === 'error') && f.reqId === reqId, 10_000)];
      return [...late, ...client.frames.splice(0)].filter((f) => f.type === 'error');
    }

    const expectStableErrors = (errors: Frame[], context: string) => {
      for (const e of errors) {
        expect(ERROR_CODES as readonly string[], context).toContain(e.error.code);
        expect(e.error.code, `${context}: ${JSON.stringify(e.error)}`).not.toBe('internal');
        expect(JSON.stringify(e), context).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
      }
      expect(client.closed, context).toBeNull();
    };

    it('answers generated and mutated frames of every type with stable error codes and stays open', async () => {
      const samples: Record<string, () => Record<string, unknown>> = {
        send: () => ({ type: 'send', reqId: 1, conversationId, clientId: `f-${Math.random()}`, kind: 'message', content: { encoding: 'plain', data: '{"text":"x"}' } }),
        typing: () => ({ type: 'typing', conversationId, active: true }),
        read: () => ({ type: 'read', conversationId, seq: 1 }),
        delivered: () => ({ type: 'delivered', conversationId, seq: 1 }),
        ping: () => ({ type: 'ping' }),
        auth: () => ({ type: 'auth', token }),
      };
      const frameArb = fc.oneof(
        {
          arbitrary: fc.record({ type: fc.constantFrom(...Object.keys(samples)), op: fc.constantFrom('set', 'delete', 'add'), pick: fc.nat(), key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'reqId', 'type')), value: hostile }).map(({ type, op, pick, key, value }) => {
            const frame = samples[type]!();
            const keys = Object.keys(frame);
            const k = op === 'add' ? key : keys[pick % keys.length]!;
            if (op === 'delete') delete frame[k];
            else frame[k] = value;
            return JSON.stringify(frame);
          }),
          weight: 6,
        },
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc.string(),
        fc.constantFrom('{', '{"type":"send",', 'null', '[]', '"ping"', '{"type":"ping","type":"send"}', '{"__proto__":{"type":"ping"}}', `${'['.repeat(INPUT_LIMITS.depth + 5)}${']'.repeat(INPUT_LIMITS.depth + 5)}`),
      );
      await fc.assert(
        fc.asyncProperty(frameArb, async (data) => {
          expectStableErrors(await answerTo(data), data.slice(0, 200));
        }),
        { numRuns: soak(300, 4000) },
      );
      // Answers to the last sends may still be on their way: none of them may be internal either.
      await new Promise((r) => setTimeout(r, 300));
      expectStableErrors(client.frames.splice(0).filter((f) => f.type === 'error'), 'late answers');
    }, soak(300_000, 3_600_000));

    it('refuses binary frames, invalid UTF-8, NUL, lone surrogates, duplicate and prototype keys, deep nesting, each with invalid_request', async () => {
      const cases: [string, string | Buffer, boolean, string?][] = [
        ['binary', Buffer.from('{"type":"ping"}'), true],
        ['invalid UTF-8 in a binary frame', Buffer.concat([Buffer.from('{"type":"ping","x":"'), Buffer.from([0xff]), Buffer.from('"}')]), true],
        ['NUL in a clientId', JSON.stringify({ type: 'send', reqId: 'n', conversationId, clientId: 'a\u0000b', kind: 'message', content: { encoding: 'plain', data: 'x' } }), false, 'n'],
        ['NUL in a payload', JSON.stringify({ type: 'send', reqId: 'p', conversationId, clientId: 'nul-payload', kind: 'message', content: { encoding: 'plain', data: 'a\u0000b' } }), false, 'p'],
        ['lone surrogate', `{"type":"send","reqId":"s","conversationId":"${conversationId}","clientId":"\\ud800","kind":"message","content":{"encoding":"plain","data":"x"}}`, false, 's'],
        ['duplicate key', `{"type":"typing","conversationId":"${conversationId}","active":true,"active":false}`, false],
        ['prototype key', `{"type":"ping","__proto__":{"admin":true}}`, false],
        ['deep nesting', `{"type":"send","refs":${'['.repeat(INPUT_LIMITS.depth + 1)}${']'.repeat(INPUT_LIMITS.depth + 1)}}`, false],
      ];
      for (const [name, data, binary, reqId] of cases) {
        const errors = await answerTo(data, binary, reqId);
        expectStableErrors(errors, name);
        expect(errors.map((e) => e.error.code), name).toEqual(['invalid_request']);
      }
    });

    it('closes a text frame that is not UTF-8 with 1007, as RFC 6455 requires, and serves the next socket', async () => {
      const { client: victim } = await WsClient.connect(t.wsUrl, token);
      victim.ws.send(Buffer.concat([Buffer.from('{"type":"typing","conversationId":"'), Buffer.from([0xff]), Buffer.from('","active":true}')]), { binary: false });
      await expect(victim.next('never')).rejects.toThrow(/closed \(1007\)/);
      const { client: next } = await WsClient.connect(t.wsUrl, token);
      next.send({ type: 'ping' });
      await next.next('pong');
      next.close();
    });

    it('refuses a frame over the frame limit with too_large, and stays open', async () => {
      const big = JSON.stringify({ type: 'send', reqId: 'big', conversationId, clientId: 'big', kind: 'message', content: { encoding: 'plain', data: 'x'.repeat(LIMITS.wsFrameBytes) } });
      const errors = await answerTo(big);
      expect(errors.map((e) => e.error.code)).toEqual(['too_large']);
      expectStableErrors(errors, 'oversized frame');
      expect((await t.api.get('/v1/health')).status).toBe(200);
    });
  });
}
