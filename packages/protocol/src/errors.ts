/**
 * Every error the API can answer with. A code without an HTTP status does not compile:
 * add the code here and its status in `ERROR_STATUS`.
 */
export const ERROR_CODES = [
  'invalid_request',
  'unauthorized',
  'forbidden',
  'messaging_not_allowed',
  'blocked',
  'not_a_member',
  'request_pending',
  'not_found',
  'conflict',
  'limit_reached',
  'username_taken',
  'too_large',
  'headers_too_large',
  'range_not_satisfiable',
  'upgrade_required',
  'unsupported_media_type',
  'rate_limited',
  'internal',
  'unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  messaging_not_allowed: 403,
  blocked: 403,
  not_a_member: 403,
  request_pending: 403,
  not_found: 404,
  conflict: 409,
  limit_reached: 409,
  username_taken: 409,
  too_large: 413,
  headers_too_large: 431,
  range_not_satisfiable: 416,
  upgrade_required: 426,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const satisfies Record<ErrorCode, number>;

export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    data?: Record<string, unknown>;
  };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
