import { PUBLISHED, type Bus, type BusHandler } from './bus.ts';
import type { DomainEvent } from './events.ts';

/** The default bus: one process, no network. Handlers run synchronously in publish order. */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, Set<BusHandler>>();

  /**
   * Not an async function: a group's message is one publish per member, and each would cost
   * a promise of its own. A handler that throws rejects the publish, as an async one would.
   */
  publish(topic: string, event: DomainEvent): Promise<void> {
    const handlers = this.topics.get(topic);
    if (!handlers) return PUBLISHED;
    try {
      // The handlers of the moment of publishing (one that subscribes another to this topic
      // does not reach it with this event): a copy, unless there is only one.
      if (handlers.size === 1) handlers.values().next().value!(event);
      else for (const handler of [...handlers]) handler(event);
    } catch (err) {
      return Promise.reject(err);
    }
    return PUBLISHED;
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    let handlers = this.topics.get(topic);
    if (!handlers) this.topics.set(topic, (handlers = new Set()));
    handlers.add(handler);
    return async () => {
      handlers.delete(handler);
      if (handlers.size === 0) this.topics.delete(topic);
    };
  }

  async close(): Promise<void> {
    this.topics.clear();
  }
}

export const _assertMemoryBus = (b: MemoryBus) => b satisfies Bus;
