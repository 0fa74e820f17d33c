import type { DomainEvent } from './events.ts';

export type BusHandler = (event: DomainEvent) => void;

/**
 * What `publish` answers when every handler already ran and none failed: nothing to wait
 * for and nothing to catch (a caller may skip attaching a handler, which costs a promise).
 */
export const PUBLISHED: Promise<void> = Promise.resolve();

/**
 * Cross-process fan-out. In-process by default (one server), Redis when several server
 * processes share the load. Delivery is at-most-once per subscriber; clients resync by
 * seq, so a lost event costs latency, never a message.
 */
export interface Bus {
  readonly kind: 'memory' | 'redis';
  /** Settles once the event is handed over; `PUBLISHED` when it already was, without error. */
  publish(topic: string, event: DomainEvent): Promise<void>;
  /** Resolves once the subscription is live; returns the function that ends it. */
  subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
