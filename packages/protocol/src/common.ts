import { z } from 'zod';
import { LIMITS } from './limits.ts';

/** Opaque identifier. Server ids are UUIDv7 (time-sortable), but clients must not rely on it. */
export const Id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'must be an id');
export type Id = z.infer<typeof Id>;

export const Timestamp = z.string().describe('ISO-8601 UTC time');

export const Limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(LIMITS.pageMax)
  .default(LIMITS.pageDefault)
  .describe(`page size (default ${LIMITS.pageDefault}, max ${LIMITS.pageMax})`);

export const Cursor = z.string().min(1).max(512).describe('opaque cursor from a previous page');

/** A query's cursor: absent or empty (`?cursor=`) both mean "from the start". */
export const OptionalCursor = z
  .string()
  .max(512)
  .optional()
  .transform((v) => (v === '' ? undefined : v))
  .describe('opaque cursor from a previous page; absent or empty: from the start');

export const Seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    data: z.record(z.string(), z.unknown()).optional(),
  }),
});
