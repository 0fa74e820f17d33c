import type { DomainEvent } from './events.ts';

export type BusHandler = (event: DomainEvent) => void;

/**
 * Cross-process fan-out. In-process by default (one server), Redis when several server
 * processes share the load. Delivery is at-most-once per subscriber; clients resync by
 * seq, so a lost event costs latency, never a message.
 */
export interface Bus {
  readonly kind: 'memory' | 'redis';
  publish(topic: string, event: DomainEvent): Promise<void>;
  /** Resolves once the subscription is live; returns the function that ends it. */
  subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
