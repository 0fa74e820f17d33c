import type { LoggerOptions } from 'pino';

/**
 * Logs never carry secrets or what people wrote: tokens, passwords and payloads are
 * redacted by path, and request logs keep only method, route and status.
 */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        '*.token',
        '*.password',
        '*.currentPassword',
        '*.newPassword',
        '*.content',
        '*.data',
        '*.evidence',
        'token',
        'password',
        'content',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: { method: string; url: string; routeOptions?: { url?: string } }) => ({
        method: req.method,
        // The route pattern, not the URL: invite tokens and queries stay out of the log.
        route: req.routeOptions?.url ?? req.url.split('?')[0],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
}
