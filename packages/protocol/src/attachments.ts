import { z } from 'zod';
import { Id } from './common.ts';

/**
 * An uploaded file. The bytes are opaque to the server (clients encrypt them end to end);
 * `sha256` is of the bytes as stored, so a client can check a download.
 */
export const Attachment = z.object({
  id: Id,
  size: z.number().int().min(0),
  contentType: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).describe('hex SHA-256 of the stored bytes'),
});
export type Attachment = z.infer<typeof Attachment>;

export const AttachmentUploadQuery = z.object({
  filename: z
    .string()
    .trim()
    .min(1)
    .max(255)
    .refine((s) => ![...s].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f' || c === '/' || c === '\\'), 'may not contain control characters or slashes')
    .optional()
    .describe('offered to downloaders in Content-Disposition'),
});

/** Why an upload was refused with 413 `too_large`, in `error.data.reason`. */
export const UploadRefusal = z.enum(['size', 'quota']);
export type UploadRefusal = z.infer<typeof UploadRefusal>;

export const AttachmentUsage = z.object({
  usedBytes: z.number().int().min(0),
  quotaBytes: z.number().int().min(0),
  maxUploadBytes: z.number().int().min(0),
});
export type AttachmentUsage = z.infer<typeof AttachmentUsage>;

/**
 * Media types served inline (a browser may show them in an <img>, <audio> or <video>);
 * everything else is served as a download. SVG is excluded: it can carry script.
 */
export function servedInline(contentType: string): boolean {
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  if (essence === 'image/svg+xml') return false;
  return /^(image|audio|video)\//.test(essence);
}
