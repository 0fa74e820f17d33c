import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/index.ts';
import { eventually, signedUpClient, suiteServer } from './support.ts';

describe('SDK under rate limits [sqlite]', () => {
  const suite = suiteServer('sqlite', { sendsPerMinute: 2 });
  const { clients } = suite;

  it('throws rate_limited with status 429 and retryAfter over HTTP', async () => {
    const a = await signedUpClient(suite.t, 'rl_a');
    const b = await signedUpClient(suite.t, 'rl_b');
    await a.client.connections.request(b.id);
    await b.client.connections.accept(a.id);
    const dm = await a.client.conversations.create({ type: 'direct', userId: b.id });
    const post = (clientId: string) => a.client.messages.post(dm.id, { clientId, kind: 'message', content: { encoding: 'plain', data: '{"type":"text","text":"x"}' } });
    await post('r1');
    await post('r2');
    const err = await post('r3').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'rate_limited', status: 429, transient: true });
    expect((err as ApiError).retryAfter).toBeGreaterThan(0);
  });

  it('keeps a rate-limited send pending (to retry after the wait) instead of failing it', async () => {
    const a = await signedUpClient(suite.t, 'rl_c');
    const b = await signedUpClient(suite.t, 'rl_d');
    clients.push(a.client);
    await a.client.connections.request(b.id);
    await b.client.connections.accept(a.id);
    await a.client.connect();
    const dm = await a.client.openDirect(b.id);
    await a.client.waitForAck((await a.client.sendText(dm.id, 'one')).clientId);
    await a.client.waitForAck((await a.client.sendText(dm.id, 'two')).clientId);
    const third = await a.client.sendText(dm.id, 'three');
    const entry = await eventually(() => {
      const e = a.client.outbox.get(third.clientId);
      return e?.error ? e : null;
    }, 'an attempt');
    expect(entry).toMatchObject({ state: 'pending', error: { code: 'rate_limited' } });
    expect(a.client.store.getMessages(dm.id).at(-1)).toMatchObject({ text: 'three', status: 'pending' });
  });
});
