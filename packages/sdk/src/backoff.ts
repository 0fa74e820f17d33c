export interface BackoffOptions {
  /** First delay ceiling in milliseconds (default 500). */
  minDelayMs?: number;
  /** Largest delay in milliseconds (default 30 s). */
  maxDelayMs?: number;
}

/**
 * Exponential backoff with full jitter: the n-th delay is uniform in [0, min(max, min·2ⁿ)],
 * so thousands of clients cut off at once do not come back in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const min = options.minDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  // Never zero: a tight reconnect loop against a server that closes at once would spin.
  return Math.max(min / 4, Math.round(random() * ceiling));
}
