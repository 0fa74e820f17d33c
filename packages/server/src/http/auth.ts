import type { FastifyRequest } from 'fastify';
import { timingSafeEqual, createHash } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Caller, RouteAuth } from '../context.ts';

export interface Authenticator {
  authenticate(token: string): Promise<Caller | null>;
}

/** The bearer token of a request, or null. Tokens only ever come from the header, never the URL. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of an operator token (hashing first evens out the lengths). */
export function operatorTokenMatches(given: string | null, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

/** An onRequest hook: every route is signed-in-only unless its config says otherwise. */
export function authHook(auth: Authenticator, operatorToken: string | undefined) {
  return async (req: FastifyRequest) => {
    req.caller = null;
    // No route matched: the not-found handler answers, with nothing to protect.
    if (req.routeOptions.url === undefined) return;
    const mode: RouteAuth = req.routeOptions.config?.auth ?? 'user';
    if (mode === 'none') return;
    const token = bearerToken(req.headers.authorization);
    if (mode === 'operator') {
      if (!operatorToken) throw new AppError('not_found', 'the admin API is disabled (set PARLEY_OPERATOR_TOKEN)');
      if (!operatorTokenMatches(token, operatorToken)) throw new AppError('unauthorized', 'operator token required');
      return;
    }
    const caller = token ? await auth.authenticate(token) : null;
    if (!caller) throw new AppError('unauthorized', token ? 'the token is invalid or was revoked' : 'sign in first: Authorization: Bearer <token>');
    req.caller = caller;
  };
}
