import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import type { Config } from '../config/config.ts';

/**
 * Security headers on every answer, and a strict Content-Security-Policy: scripts and
 * styles only from this origin, no inline script, no plugins, no framing.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const allowedOrigins = (config: Config) => new Set(config.corsOrigins.split(',').map((s) => s.trim()).filter(Boolean));

/** Set the headers on one answer. Also called for answers that bypass the onSend hooks (a malformed URL). */
export function securityHeaderSetter(config: Config) {
  const allowed = allowedOrigins(config);
  return (req: FastifyRequest, reply: FastifyReply): void => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    reply.header('permissions-policy', 'camera=(), microphone=(self), geolocation=()');
    if (req.url.startsWith('/v1/')) reply.header('cache-control', 'no-store');
    // CORS is closed unless the operator lists origins.
    const origin = req.headers.origin;
    if (origin && allowed.has(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.header('vary', 'Origin');
      reply.header('access-control-allow-headers', 'authorization, content-type');
      reply.header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE');
    }
  };
}

/** The onSend hook (callback style: an async hook costs a promise and a turn on every answer). */
export function securityHeaders(config: Config) {
  const set = securityHeaderSetter(config);
  return (req: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: Error | null, payload: unknown) => void): void => {
    set(req, reply);
    done(null, payload);
  };
}

/**
 * CORS preflight: a browser asks before a cross-origin call with a token or a JSON body.
 * A listed origin gets 204 (the allow headers come from securityHeaders); any other
 * origin is refused, so CORS stays closed unless the operator opens it.
 */
export function corsPreflight(app: FastifyInstance, config: Config): void {
  const allowed = allowedOrigins(config);
  app.options('/*', {
    config: { auth: 'none' },
    schema: { hide: true },
  }, async (req, reply) => {
    const origin = req.headers.origin;
    if (origin !== undefined && !allowed.has(origin)) throw new AppError('forbidden', 'this origin is not allowed (PARLEY_CORS_ORIGINS)');
    if (origin !== undefined) reply.header('access-control-max-age', '600');
    return reply.status(204).send();
  });
}
