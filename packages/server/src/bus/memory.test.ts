import { describe, expect, it } from 'vitest';
import type { DomainEvent } from './events.ts';
import { MemoryBus } from './memory.ts';

const event = { type: 'typing', conversationId: 'c', userId: 'u', active: true, recipientIds: [] } as unknown as DomainEvent;

describe('MemoryBus', () => {
  it('runs the handlers of the moment of publishing, synchronously', async () => {
    const bus = new MemoryBus();
    const seen: string[] = [];
    await bus.subscribe('t', () => {
      seen.push('first');
      // Subscribed while the event is being handled: it gets the next one, not this one.
      void bus.subscribe('t', () => seen.push('late'));
    });
    const published = bus.publish('t', event);
    expect(seen).toEqual(['first']);
    await published;
    seen.length = 0;
    await bus.publish('t', event);
    expect(seen).toEqual(['first', 'late']);
  });

  it('rejects the publish when a handler throws, and still resolves a topic nobody hears', async () => {
    const bus = new MemoryBus();
    await bus.subscribe('t', () => {
      throw new Error('boom');
    });
    await expect(bus.publish('t', event)).rejects.toThrow('boom');
    await expect(bus.publish('nobody', event)).resolves.toBeUndefined();
  });

  it('stops delivering once unsubscribed', async () => {
    const bus = new MemoryBus();
    let n = 0;
    const off = await bus.subscribe('t', () => n++);
    await bus.publish('t', event);
    await off();
    await bus.publish('t', event);
    expect(n).toBe(1);
  });

  it('still runs, for the event being published, a handler that another one unsubscribes', async () => {
    const bus = new MemoryBus();
    const seen: string[] = [];
    await bus.subscribe('t', () => {
      seen.push('first');
      void offSecond();
    });
    const offSecond = await bus.subscribe('t', () => seen.push('second'));
    await bus.publish('t', event);
    expect(seen).toEqual(['first', 'second']);
    seen.length = 0;
    await bus.publish('t', event);
    expect(seen).toEqual(['first']);
  });

  it('keeps each subscription apart: ending one leaves the others, a handler subscribed twice runs once', async () => {
    const bus = new MemoryBus();
    const seen: string[] = [];
    const a = () => seen.push('a');
    const offA = await bus.subscribe('t', a);
    await bus.subscribe('t', a);
    const offB = await bus.subscribe('t', () => seen.push('b'));
    await bus.publish('t', event);
    expect(seen).toEqual(['a', 'b']);
    await offB();
    await offB();
    seen.length = 0;
    await bus.publish('t', event);
    expect(seen).toEqual(['a']);
    await offA();
    seen.length = 0;
    await bus.publish('t', event);
    expect(seen).toEqual([]);
  });
});
