import { ERROR_STATUS, isErrorCode, type ErrorCode } from '@parley/protocol';

/**
 * Codes an `ApiError` can carry: every server `ErrorCode`, plus two the client raises itself
 * when no answer came back (`network_error`: the request never completed; `timeout`: it took
 * longer than the client allows). Switch on the code, never on the message.
 */
export type ApiErrorCode = ErrorCode | 'network_error' | 'timeout';

/**
 * The one error the SDK throws for a failed call, keyed on `code`.
 *
 * @example
 * try {
 *   await client.conversations.create({ type: 'direct', userId });
 * } catch (err) {
 *   if (err instanceof ApiError && err.code === 'messaging_not_allowed') showCannotMessage();
 *   else throw err;
 * }
 */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  /** The HTTP status, or 0 when the server never answered. */
  readonly status: number;
  readonly data: Record<string, unknown> | undefined;
  /** Seconds to wait before trying again (from `Retry-After`), when the server said so. */
  readonly retryAfter: number | undefined;

  constructor(code: ApiErrorCode, message: string, options: { status?: number; data?: Record<string, unknown>; retryAfter?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = options.status ?? (isErrorCode(code) ? ERROR_STATUS[code] : 0);
    this.data = options.data;
    this.retryAfter = options.retryAfter;
  }

  /**
   * Whether trying the same request again later may succeed: the network, a timeout, a rate
   * limit or a server-side failure. A 4xx that describes the request itself will not change.
   *
   * @example
   * if (err instanceof ApiError && err.transient) scheduleRetry(err.retryAfter ?? 1);
   */
  get transient(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** Build an `ApiError` from an error frame or body `{code, message, data?}`. */
export function apiErrorFrom(error: { code: string; message: string; data?: Record<string, unknown> | undefined }, status?: number, retryAfter?: number): ApiError {
  const code: ApiErrorCode = isErrorCode(error.code) ? error.code : status !== undefined && status >= 500 ? 'internal' : 'invalid_request';
  return new ApiError(code, error.message, { status, data: error.data, retryAfter });
}
