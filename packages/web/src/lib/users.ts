import { useSyncExternalStore } from 'react';
import type { User } from '@parley/sdk';

type Fetch = (id: string) => Promise<User>;

/**
 * Profiles by id, fetched once and shared: conversations and envelopes carry only user ids.
 * A profile that cannot be fetched (deleted, or they blocked me) is remembered as unknown.
 */
export class UserDirectory {
  private readonly users = new Map<string, User | null>();
  private readonly inflight = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private version = 0;

  constructor(private readonly fetchUser: Fetch) {}

  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  getVersion = () => this.version;

  put(user: User): void {
    this.users.set(user.id, user);
    this.changed();
  }

  /** The profile if known; starts fetching it otherwise. */
  get(id: string): User | null | undefined {
    const known = this.users.get(id);
    if (known !== undefined || this.inflight.has(id)) return known;
    this.inflight.add(id);
    this.fetchUser(id)
      .then((u) => this.users.set(id, u), () => this.users.set(id, null))
      .finally(() => {
        this.inflight.delete(id);
        this.changed();
      });
    return undefined;
  }

  /** A name to show: display name, else @username, else a neutral placeholder. */
  name(id: string): string {
    const u = this.get(id);
    if (u === null) return 'Unknown person';
    if (!u) return '…';
    if (u.deleted) return 'Deleted account';
    return u.displayName || u.username;
  }

  private changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }
}

/** Re-render when any profile arrives. */
export function useDirectory(dir: UserDirectory): UserDirectory {
  useSyncExternalStore(dir.subscribe, dir.getVersion);
  return dir;
}
