import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@parley/protocol';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../errors.ts';
import type { AppContext } from '../context.ts';

/** Fastify's own 4xx errors, each mapped to a stable code. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

export function toErrorBody(code: ErrorCode, message: string, data?: Record<string, unknown>): ErrorBody {
  return data ? { error: { code, message, data } } : { error: { code, message } };
}

/** Map anything thrown to a status and a body; unknown errors become `internal` and are logged with their cause. */
export function describeError(err: unknown, ctx: Pick<AppContext, 'database'>): { status: number; body: ErrorBody; retryAfter?: number; unexpected: boolean } {
  if (err instanceof AppError) {
    return { status: err.status, body: toErrorBody(err.code, err.message, err.data), retryAfter: err.retryAfter, unexpected: false };
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issue = err.validation[0];
    const where = (err as FastifyError).validationContext ?? 'body';
    const pathParts = (issue?.instancePath ?? '').split('/').filter(Boolean);
    const field = [where, ...pathParts].join('.');
    return { status: 400, body: toErrorBody('invalid_request', `${field}: ${issue?.message ?? 'invalid'}`, { field }), unexpected: false };
  }
  const fe = err as FastifyError;
  if (typeof fe?.code === 'string' && FASTIFY_CODES[fe.code]) {
    const code = FASTIFY_CODES[fe.code]!;
    return { status: ERROR_STATUS[code], body: toErrorBody(code, fe.message), unexpected: false };
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ErrorCode = fe.statusCode === 413 ? 'too_large' : fe.statusCode === 415 ? 'unsupported_media_type' : fe.statusCode === 404 ? 'not_found' : 'invalid_request';
    return { status: ERROR_STATUS[code], body: toErrorBody(code, fe.message), unexpected: false };
  }
  if (ctx.database.isUnavailable(err)) {
    return { status: 503, body: toErrorBody('unavailable', 'the database is unavailable; try again shortly'), retryAfter: 1, unexpected: false };
  }
  return { status: 500, body: toErrorBody('internal', 'internal error'), unexpected: true };
}

export function errorHandler(ctx: AppContext) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { status, body, retryAfter, unexpected } = describeError(err, ctx);
    if (unexpected) req.log.error({ err }, 'unexpected error');
    ctx.metrics.errors.inc({ code: body.error.code });
    if (retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
    return reply.status(status).send(body);
  };
}

/**
 * Requests so malformed that Node's HTTP parser refuses them (oversized headers, broken
 * framing) never reach Fastify: answer them in the API's error shape, then close.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message]: [number, ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW' ? [ERROR_STATUS.headers_too_large, 'headers_too_large', 'the request headers are too large'] : [400, 'invalid_request', 'malformed HTTP request'];
  const body = JSON.stringify(toErrorBody(code, message));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
