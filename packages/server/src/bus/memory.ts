import type { Bus, BusHandler } from './bus.ts';
import type { DomainEvent } from './events.ts';

/** The default bus: one process, no network. Handlers run synchronously in publish order. */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, Set<BusHandler>>();

  async publish(topic: string, event: DomainEvent): Promise<void> {
    const handlers = this.topics.get(topic);
    if (!handlers) return;
    for (const handler of [...handlers]) handler(event);
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
