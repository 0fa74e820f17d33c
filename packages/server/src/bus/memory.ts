import { PUBLISHED, type Bus, type BusHandler } from './bus.ts';
import type { DomainEvent } from './events.ts';

/** The default bus: one process, no network. Handlers run synchronously in publish order. */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  /**
   * Each topic's handlers, as an array that is replaced, never changed, when one subscribes
   * or leaves: a publish runs the handlers of its moment (one that subscribes another to the
   * topic does not reach it with this event) without copying them.
   */
  private readonly topics = new Map<string, readonly BusHandler[]>();

  /**
   * Not an async function: a group's message is one publish per member, and each would cost
   * a promise of its own. A handler that throws rejects the publish, as an async one would.
   */
  publish(topic: string, event: DomainEvent): Promise<void> {
    const handlers = this.topics.get(topic);
    if (handlers === undefined) return PUBLISHED;
    try {
      for (let i = 0; i < handlers.length; i++) handlers[i]!(event);
    } catch (err) {
      return Promise.reject(err);
    }
    return PUBLISHED;
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    const handlers = this.topics.get(topic) ?? [];
    // concat, not a spread: an array of exactly its length (a spread's has room to grow,
    // ~130 bytes more for each user with a socket here; W1 counts them).
    if (!handlers.includes(handler)) this.topics.set(topic, handlers.concat(handler));
    return async () => {
      const now = this.topics.get(topic);
      if (now === undefined || !now.includes(handler)) return;
      const rest = now.filter((h) => h !== handler);
      if (rest.length === 0) this.topics.delete(topic);
      else this.topics.set(topic, rest);
    };
  }

  async close(): Promise<void> {
    this.topics.clear();
  }
}

export const _assertMemoryBus = (b: MemoryBus) => b satisfies Bus;
