import { ERROR_STATUS, type ErrorCode } from '@parley/protocol';

/** The one error type the server throws on purpose. Transports map it to `{error: {code, message, data}}`. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown> | undefined;
  /** Seconds a rate-limited caller should wait (sent as Retry-After). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: { data?: Record<string, unknown>; cause?: unknown; retryAfter?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.data = options.data;
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what = 'not found') => new AppError('not_found', what);
export const forbidden = (message = 'forbidden') => new AppError('forbidden', message);
export const invalid = (field: string, message: string) => new AppError('invalid_request', `${field}: ${message}`, { data: { field } });
