import type { Caller } from '../../context.ts';

/**
 * Every process subscribes to this bus topic; a revoked session is announced on it so each
 * process drops the token from its cache. (Sockets hear of it on their user's topic.)
 */
export const SESSIONS_TOPIC = 'sessions';

/**
 * A cached token is checked against the database again after this long. Invalidation
 * travels on the bus and is immediate; this only bounds how long a process that missed an
 * announcement (Redis unreachable while a session was revoked) could go on trusting it.
 */
export const SESSION_RECHECK_MS = 10_000;

/** Enough for every socket and busy client of a big process; past it, the oldest entries go. */
export const SESSION_CACHE_MAX = 50_000;

interface Entry {
  caller: Caller;
  /** When the database last confirmed the session (ms). */
  checkedAt: number;
  /** The session's last_active_at as last written (ms), so activity is written once a minute. */
  lastActiveAt: number;
}

/**
 * Token hash → caller, so a request or socket costs no session query. Correctness rests on
 * two things: every revocation drops its session here (through `drop`, on every process),
 * and a lookup that raced a revocation is not cached (`generation`: a database read begun
 * before a drop may have seen the session still there).
 */
export class SessionCache {
  private readonly byHash = new Map<string, Entry>();
  private readonly hashBySession = new Map<string, string>();
  private generation = 0;
  /** Off until the process hears revocations (its bus subscription is live). */
  private enabled = false;

  constructor(private readonly max = SESSION_CACHE_MAX) {}

  enable(): void {
    this.enabled = true;
  }

  get size(): number {
    return this.byHash.size;
  }

  get(hash: string, now: number): Entry | undefined {
    if (!this.enabled) return undefined;
    const entry = this.byHash.get(hash);
    if (!entry || now - entry.checkedAt > SESSION_RECHECK_MS) return undefined;
    return entry;
  }

  /** Taken before a database lookup; `put` refuses the result if a drop happened since. */
  begin(): number {
    return this.generation;
  }

  put(hash: string, caller: Caller, checkedAt: number, lastActiveAt: number, generation: number): void {
    if (!this.enabled || generation !== this.generation) return;
    this.remove(hash);
    if (this.byHash.size >= this.max) {
      const oldest = this.byHash.keys().next().value;
      if (oldest !== undefined) this.remove(oldest);
    }
    this.byHash.set(hash, { caller, checkedAt, lastActiveAt });
    this.hashBySession.set(caller.sessionId, hash);
  }

  /** The session is gone (revoked, password changed, account deleted): forget it now. */
  drop(sessionId: string): void {
    this.generation++;
    const hash = this.hashBySession.get(sessionId);
    if (hash !== undefined) this.remove(hash);
  }

  private remove(hash: string): void {
    const entry = this.byHash.get(hash);
    if (!entry) return;
    this.byHash.delete(hash);
    this.hashBySession.delete(entry.caller.sessionId);
  }
}
