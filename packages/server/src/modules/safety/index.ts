import type { AppContext } from '../../context.ts';
import { createReports } from './reports.ts';
import { safetyRoutes } from './routes.ts';

export { MemoryRateLimiter, rateRules, type RateLimiter, type RateRule, type BucketSpec } from './rate-limiter.ts';
export { RedisRateLimiter } from './redis-rate-limiter.ts';
export { addressKey } from './address-key.ts';
export type { Reports } from './reports.ts';

/** Reports and the operator's moderation queue (rate limits are built in main.ts, before any module). */
export function createSafety(ctx: AppContext) {
  const reports = createReports(ctx);
  return { reports, routes: safetyRoutes(reports) };
}
