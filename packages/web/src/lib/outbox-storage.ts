import type { OutboxEntry, OutboxPersistence } from '@parley/sdk';

/**
 * The outbox survives a reload: a message written while offline is still sent (with the
 * same clientId, so never twice) when the tab comes back. One key per account.
 */
export class LocalOutboxPersistence implements OutboxPersistence {
  constructor(private readonly key: string) {}

  private read(): Record<string, OutboxEntry> {
    try {
      const v = JSON.parse(localStorage.getItem(this.key) ?? '{}') as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, OutboxEntry>) : {};
    } catch {
      return {};
    }
  }

  private write(all: Record<string, OutboxEntry>): void {
    if (Object.keys(all).length) localStorage.setItem(this.key, JSON.stringify(all));
    else localStorage.removeItem(this.key);
  }

  async load(): Promise<OutboxEntry[]> {
    return Object.values(this.read());
  }

  async put(entry: OutboxEntry): Promise<void> {
    const all = this.read();
    all[entry.clientId] = entry;
    this.write(all);
  }

  async delete(clientId: string): Promise<void> {
    const all = this.read();
    delete all[clientId];
    this.write(all);
  }
}
