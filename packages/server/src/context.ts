import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Config } from './config/config.ts';
import type { Database, DB } from './storage/db.ts';
import type { Bus } from './bus/bus.ts';
import type { DomainEvent } from './bus/events.ts';
import type { Metrics } from './metrics.ts';
import type { RateLimiter } from './modules/safety/rate-limiter.ts';

/** What every module is built from. Passed down from main.ts; nothing here is global. */
export interface AppContext {
  config: Config;
  database: Database;
  db: Kysely<DB>;
  log: FastifyBaseLogger;
  bus: Bus;
  metrics: Metrics;
  /** Token buckets for sign-in, sends, typing (memory, or Redis when configured). */
  limits: RateLimiter;
  /** Announce a committed change. Call after the transaction, never inside it. */
  emit(event: DomainEvent): void;
}

/** Who is calling, once the HTTP or WS layer has checked the token. */
export interface Caller {
  userId: string;
  sessionId: string;
}

export type RouteAuth = 'user' | 'none' | 'operator';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    /** Who may call the route: a signed-in user (default), anyone, or the operator. */
    auth?: RouteAuth;
  }
}

/** The caller of a route that requires a user (the HTTP layer has already refused anyone else). */
export function callerOf(req: { caller: Caller | null }): Caller {
  if (!req.caller) throw new Error('route requires auth but has no caller');
  return req.caller;
}
