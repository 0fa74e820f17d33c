import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../bus/events.ts';
import { MemoryBus } from '../../bus/memory.ts';
import { FANOUT_THRESHOLD, FANOUT_TOPIC, publishEvent, userTopic } from './routing.ts';

const log = pino({ level: 'silent' });

async function record(bus: MemoryBus, topics: string[]) {
  const got: [string, DomainEvent][] = [];
  for (const topic of topics) await bus.subscribe(topic, (e) => got.push([topic, e]));
  return got;
}

describe('event routing', () => {
  it('puts a small event on each recipient’s topic, once per recipient, without the recipient list', async () => {
    const bus = new MemoryBus();
    const got = await record(bus, [userTopic('a'), userTopic('b'), userTopic('c'), FANOUT_TOPIC]);
    publishEvent(bus, { type: 'typing', conversationId: 'k', userId: 'a', active: true, recipientIds: ['b', 'c', 'b'] }, log);
    expect(got.map(([topic]) => topic)).toEqual([userTopic('b'), userTopic('c')]);
    expect(got[0]![1]).toEqual({ type: 'typing', conversationId: 'k', userId: 'a', active: true, recipientIds: [] });
    // One object for every topic: serialized once downstream.
    expect(got[0]![1]).toBe(got[1]![1]);
  });

  it('publishes once per recipient however often a list names them, short lists and long', async () => {
    for (const n of [3, 16, 17, FANOUT_THRESHOLD - 1]) {
      const bus = new MemoryBus();
      const ids = Array.from({ length: n }, (_, i) => `u${i}`);
      const got = await record(bus, ids.map(userTopic));
      // The last id again, and the first: a repeat at either end of the pairwise scan.
      const named = [...ids.slice(0, -2), ids[n - 1]!, ids[n - 2]!, ids[n - 1]!, ids[0]!];
      publishEvent(bus, { type: 'typing', conversationId: 'k', userId: 'x', active: true, recipientIds: named }, log);
      expect(got.map(([topic]) => topic).sort()).toEqual(ids.map(userTopic).sort());
    }
  });

  it('sends an event for many recipients once, on the fan-out topic, with its recipients', async () => {
    const bus = new MemoryBus();
    const ids = Array.from({ length: FANOUT_THRESHOLD }, (_, i) => `u${i}`);
    const got = await record(bus, [FANOUT_TOPIC, userTopic('u0')]);
    publishEvent(bus, { type: 'conversation.changed', conversationId: 'g', recipientIds: ids }, log);
    expect(got).toHaveLength(1);
    expect(got[0]![0]).toBe(FANOUT_TOPIC);
    expect((got[0]![1] as { recipientIds: string[] }).recipientIds).toEqual(ids);
  });

  it('sends a revocation to its user’s topic, and nothing for an event without recipients', async () => {
    const bus = new MemoryBus();
    const got = await record(bus, [userTopic('a'), FANOUT_TOPIC]);
    publishEvent(bus, { type: 'session.revoked', userId: 'a', sessionId: 's' }, log);
    publishEvent(bus, { type: 'marker', conversationId: 'k', userId: 'a', kind: 'read', seq: 1, recipientIds: [] }, log);
    expect(got).toEqual([[userTopic('a'), { type: 'session.revoked', userId: 'a', sessionId: 's' }]]);
  });

  it('logs a publish that fails (a handler that throws) and goes on with the other recipients', async () => {
    const bus = new MemoryBus();
    const lines: { msg: string; type: string }[] = [];
    const recording = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const got = await record(bus, [userTopic('c')]);
    await bus.subscribe(userTopic('b'), () => {
      throw new Error('handler failed');
    });
    expect(() => publishEvent(bus, { type: 'typing', conversationId: 'k', userId: 'a', active: true, recipientIds: ['b', 'c'] }, recording)).not.toThrow();
    expect(got.map(([topic]) => topic)).toEqual([userTopic('c')]);
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([expect.objectContaining({ msg: 'bus publish failed', type: 'typing' })]);
  });
});
