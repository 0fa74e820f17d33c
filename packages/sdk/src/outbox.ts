import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { ApiError } from './errors.ts';
import type { Ack, PlainContent, Refs } from './types.ts';

/** `pending` until the server acked it, then `sent`; `failed` after too many attempts or a refusal that will not change. */
export type OutboxState = 'pending' | 'sent' | 'failed';

/** One optimistic send. The `clientId` never changes across retries, so the server stores it once. */
export interface OutboxEntry {
  clientId: string;
  conversationId: string;
  kind: 'message' | 'edit' | 'reaction';
  content: PlainContent;
  refs?: Refs;
  attachmentIds?: string[];
  state: OutboxState;
  attempts: number;
  createdAt: string;
  ack?: Ack;
  error?: { code: string; message: string };
}

/**
 * Where the outbox keeps unsent entries so they survive a reload. The default keeps them in
 * memory; a web app can back it with IndexedDB or localStorage.
 *
 * @example
 * const persistence: OutboxPersistence = {
 *   async load() { return JSON.parse(localStorage.getItem('outbox') ?? '[]'); },
 *   async put(entry) { const all = await this.load(); localStorage.setItem('outbox', JSON.stringify([...all.filter((e) => e.clientId !== entry.clientId), entry])); },
 *   async delete(clientId) { const all = await this.load(); localStorage.setItem('outbox', JSON.stringify(all.filter((e) => e.clientId !== clientId))); },
 * };
 */
export interface OutboxPersistence {
  load(): Promise<OutboxEntry[]>;
  put(entry: OutboxEntry): Promise<void>;
  delete(clientId: string): Promise<void>;
}

/**
 * The default, in-memory outbox persistence.
 *
 * @example
 * const client = new ParleyClient({ baseUrl, outbox: new MemoryOutboxPersistence() });
 */
export class MemoryOutboxPersistence implements OutboxPersistence {
  private readonly entries = new Map<string, OutboxEntry>();
  async load(): Promise<OutboxEntry[]> {
    return [...this.entries.values()].map((e) => structuredClone(e));
  }
  async put(entry: OutboxEntry): Promise<void> {
    this.entries.set(entry.clientId, structuredClone(entry));
  }
  async delete(clientId: string): Promise<void> {
    this.entries.delete(clientId);
  }
}

export interface OutboxOptions {
  persistence?: OutboxPersistence;
  /** Attempts before an entry fails (default 8). */
  maxAttempts?: number;
  retry?: BackoffOptions;
  /** Deliver one entry; resolves with the server's ack or throws an `ApiError`. */
  transmit(entry: OutboxEntry): Promise<Ack>;
  /**
   * Whether the client is connected. Network failures while offline do not count against
   * `maxAttempts`: a message written offline waits for the connection instead of failing.
   */
  isOnline?: () => boolean;
}

export type OutboxEvents = {
  /** An entry was added or changed state (a `sent` entry is then dropped from the outbox). */
  change: [OutboxEntry];
  /** An entry was acked: the client turns it into an envelope in the store. */
  sent: [OutboxEntry & { ack: Ack }];
};

/** Whether an error means this exact request will never succeed. */
function permanent(err: unknown): boolean {
  return err instanceof ApiError && !err.transient;
}

/**
 * Optimistic sends, one at a time per conversation (so they keep their order), retried
 * with the same `clientId` until acked.
 */
export class Outbox extends Emitter<OutboxEvents> {
  private readonly entries = new Map<string, OutboxEntry>();
  private readonly persistence: OutboxPersistence;
  private readonly busy = new Set<string>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Tries per entry, counted or not, for the backoff. */
  private readonly tries = new Map<string, number>();
  private loaded: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly options: OutboxOptions) {
    super();
    this.persistence = options.persistence ?? new MemoryOutboxPersistence();
  }

  /** Load persisted entries (once) and start delivering them. */
  load(): Promise<void> {
    this.loaded ??= this.persistence.load().then((entries) => {
      for (const e of entries) {
        if (this.entries.has(e.clientId)) continue;
        this.entries.set(e.clientId, e);
        this.emit('change', e);
      }
      this.kickAll();
    });
    return this.loaded;
  }

  /** Every entry not yet sent (pending or failed), oldest first. */
  list(conversationId?: string): OutboxEntry[] {
    return [...this.entries.values()].filter((e) => e.state !== 'sent' && (!conversationId || e.conversationId === conversationId));
  }

  get(clientId: string): OutboxEntry | undefined {
    return this.entries.get(clientId);
  }

  async add(entry: Omit<OutboxEntry, 'state' | 'attempts' | 'createdAt'> & { createdAt?: string }): Promise<OutboxEntry> {
    const full: OutboxEntry = { ...entry, state: 'pending', attempts: 0, createdAt: entry.createdAt ?? new Date().toISOString() };
    this.entries.set(full.clientId, full);
    this.emit('change', full);
    await this.persistence.put(full);
    this.kick(full.conversationId);
    return full;
  }

  /** Try a failed entry again, with the same `clientId`. */
  async retry(clientId: string): Promise<void> {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state !== 'failed') return;
    entry.state = 'pending';
    entry.attempts = 0;
    this.tries.delete(clientId);
    delete entry.error;
    this.emit('change', entry);
    await this.persistence.put(entry);
    this.kick(entry.conversationId);
  }

  /** Give up on a failed or pending entry. */
  async discard(clientId: string): Promise<void> {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state === 'sent') return;
    this.entries.delete(clientId);
    entry.state = 'failed';
    entry.error = { code: 'discarded', message: 'discarded by the user' };
    await this.persistence.delete(clientId);
    this.emit('change', entry);
  }

  /** The connection came back: retry waiting entries now instead of after their backoff. */
  wake(): void {
    for (const [conversationId, timer] of this.timers) {
      clearTimeout(timer);
      this.timers.delete(conversationId);
    }
    this.kickAll();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  start(): void {
    this.stopped = false;
    this.kickAll();
  }

  private kickAll(): void {
    for (const conversationId of new Set([...this.entries.values()].map((e) => e.conversationId))) this.kick(conversationId);
  }

  private kick(conversationId: string): void {
    if (this.stopped || this.busy.has(conversationId) || this.timers.has(conversationId)) return;
    const next = [...this.entries.values()].find((e) => e.conversationId === conversationId && e.state === 'pending');
    if (!next) return;
    this.busy.add(conversationId);
    void this.deliver(next).finally(() => {
      this.busy.delete(conversationId);
      this.kick(conversationId);
    });
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    entry.attempts += 1;
    try {
      const ack = await this.options.transmit(entry);
      entry.state = 'sent';
      entry.ack = ack;
      delete entry.error;
      this.entries.delete(entry.clientId);
      this.tries.delete(entry.clientId);
      await this.persistence.delete(entry.clientId);
      this.emit('change', entry);
      this.emit('sent', entry as OutboxEntry & { ack: Ack });
      return;
    } catch (err) {
      const apiErr = err instanceof ApiError ? err : new ApiError('network_error', String((err as Error)?.message ?? err), { cause: err });
      entry.error = { code: apiErr.code, message: apiErr.message };
      const tries = (this.tries.get(entry.clientId) ?? 0) + 1;
      this.tries.set(entry.clientId, tries);
      const unreachable = apiErr.code === 'network_error' || apiErr.code === 'timeout';
      if (unreachable && this.options.isOnline && !this.options.isOnline()) entry.attempts -= 1;
      if (permanent(apiErr) || entry.attempts >= (this.options.maxAttempts ?? 8)) {
        entry.state = 'failed';
        await this.persistence.put(entry);
        this.emit('change', entry);
        return;
      }
      await this.persistence.put(entry);
      this.emit('change', entry);
      // Wait before the next attempt of this conversation's queue (order is kept: it goes first again).
      const delay = Math.max(backoffDelay(tries - 1, this.options.retry ?? { minDelayMs: 250, maxDelayMs: 15_000 }), (apiErr.retryAfter ?? 0) * 1000);
      if (this.stopped) return;
      this.timers.set(
        entry.conversationId,
        setTimeout(() => {
          this.timers.delete(entry.conversationId);
          this.kick(entry.conversationId);
        }, delay),
      );
    }
  }
}
