import { Redis, type RedisOptions } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { Bus, BusHandler } from './bus.ts';
import type { DomainEvent } from './events.ts';

/** How long a publish waits for a (re)connecting Redis before the event is dropped. */
const PUBLISH_WAIT_MS = 2_000;

export interface RedisBusOptions {
  /** Channel prefix, so several deployments (or test runs) can share one Redis. */
  prefix?: string;
  log?: FastifyBaseLogger;
  /** Name the two connections carry in CLIENT LIST (operators, and the reconnect test, find them by it). */
  connectionName?: string;
}

/**
 * The bus across processes: Redis pub/sub. Two connections, because a connection in
 * subscriber mode can do nothing else. ioredis queues commands while reconnecting and
 * re-issues every SUBSCRIBE after a reconnect (`autoResubscribe`), so a Redis restart costs
 * the events published while it was down, never the subscriptions.
 */
export class RedisBus implements Bus {
  readonly kind = 'redis' as const;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly prefix: string;
  private readonly topics = new Map<string, { handlers: Set<BusHandler>; live: Promise<unknown> }>();
  /**
   * One event is often published on many topics (a group message goes to every member's
   * topic): it is serialized once, not once per topic.
   */
  private readonly serialized = new WeakMap<DomainEvent, string>();
  private closed = false;
  private whenReady: Promise<void> | null = null;

  constructor(url: string, options: RedisBusOptions = {}) {
    this.prefix = options.prefix ?? 'parley:bus:';
    const common: RedisOptions = {
      connectionName: options.connectionName,
      // Never give up reconnecting: a server without its bus is degraded, not dead.
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
      maxRetriesPerRequest: null,
    };
    // Publishes issued in the same tick share one write (auto-pipelining). While Redis is
    // unreachable, publishes fail after a short wait instead of piling up in memory.
    this.pub = new Redis(url, { ...common, enableAutoPipelining: true, enableOfflineQueue: false });
    this.pub.on('ready', () => {
      this.whenReady = null;
    });
    this.sub = new Redis(url, { ...common, autoResubscribe: true });
    const log = options.log;
    for (const [name, conn] of [['pub', this.pub], ['sub', this.sub]] as const) {
      conn.on('error', (err) => log?.warn({ err, connection: name }, 'redis bus connection error'));
      conn.on('reconnecting', () => log?.info({ connection: name }, 'redis bus reconnecting'));
    }
    this.sub.on('message', (channel: string, message: string) => {
      const handlers = this.topics.get(channel.slice(this.prefix.length))?.handlers;
      if (!handlers || handlers.size === 0) return;
      let event: DomainEvent;
      try {
        event = JSON.parse(message) as DomainEvent;
      } catch (err) {
        log?.error({ err, channel }, 'unparseable bus message dropped');
        return;
      }
      for (const handler of [...handlers]) {
        try {
          handler(event);
        } catch (err) {
          log?.error({ err, channel }, 'bus handler failed');
        }
      }
    });
  }

  async publish(topic: string, event: DomainEvent): Promise<void> {
    if (this.closed) return;
    let payload = this.serialized.get(event);
    if (payload === undefined) {
      payload = JSON.stringify(event);
      this.serialized.set(event, payload);
    }
    if (this.pub.status !== 'ready') await this.pubReady();
    await this.pub.publish(this.prefix + topic, payload);
  }

  /** Wait a little for the publishing connection (first connect, a blip); then give up on the event. */
  private async pubReady(): Promise<void> {
    this.whenReady ??= new Promise((resolve) => this.pub.once('ready', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), PUBLISH_WAIT_MS);
    });
    const outcome = await Promise.race([this.whenReady, gaveUp]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new Error(`redis bus unavailable (${this.pub.status}): event dropped`);
  }

  async subscribe(topic: string, handler: BusHandler): Promise<() => Promise<void>> {
    let entry = this.topics.get(topic);
    // Commands on one connection run in order, so a SUBSCRIBE issued after an UNSUBSCRIBE of
    // the same channel wins, whatever the timing of the replies.
    if (!entry) this.topics.set(topic, (entry = { handlers: new Set(), live: this.sub.subscribe(this.prefix + topic) }));
    entry.handlers.add(handler);
    try {
      await entry.live;
    } catch (err) {
      entry.handlers.delete(handler);
      if (entry.handlers.size === 0 && this.topics.get(topic) === entry) this.topics.delete(topic);
      throw err;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      const current = this.topics.get(topic);
      if (!current) return;
      current.handlers.delete(handler);
      if (current.handlers.size === 0) {
        this.topics.delete(topic);
        if (!this.closed) await this.sub.unsubscribe(this.prefix + topic).catch(() => {});
      }
    };
  }

  /** Topics with at least one local handler (metrics and tests). */
  get topicCount(): number {
    return this.topics.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.topics.clear();
    await Promise.all([this.pub, this.sub].map((conn) => closeConnection(conn)));
  }
}

/** QUIT when connected; a connection still (re)connecting would queue QUIT forever: drop it. */
export async function closeConnection(conn: Redis): Promise<void> {
  if (conn.status !== 'ready') return conn.disconnect();
  await conn.quit().catch(() => conn.disconnect());
}

export const _assertRedisBus = (b: RedisBus) => b satisfies Bus;
