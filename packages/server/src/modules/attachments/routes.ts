import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { Attachment, AttachmentUploadQuery, AttachmentUsage, Id, servedInline } from '@parley/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Attachments } from './actions.ts';
import { contentDisposition, parseRange } from './range.ts';

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})((?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\r\\n]*"))*)\\s*$`);
const MEDIA_TYPE_MAX = 200;

/** The uploaded Content-Type, checked and with its type and subtype lower-cased; octet-stream when absent. */
function mediaType(header: string | undefined): string {
  if (header === undefined || header.trim() === '') return 'application/octet-stream';
  const match = header.length <= MEDIA_TYPE_MAX ? MEDIA_TYPE.exec(header.trim()) : null;
  if (!match) throw new AppError('unsupported_media_type', 'Content-Type is not a media type', { data: { field: 'headers.content-type' } });
  return `${match[1]!.toLowerCase()}/${match[2]!.toLowerCase()}${match[3]!.replace(/\s*;\s*/g, '; ')}`;
}

function declaredLength(req: IncomingMessage): number | null {
  const header = req.headers['content-length'];
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : null;
}

/**
 * The request body as a stream the blob store may destroy on failure without destroying
 * the socket, so a refusal (413) still reaches the client. A client that goes away
 * mid-upload fails the stream as interrupted.
 */
function bodyOf(req: IncomingMessage): Readable {
  const out = new PassThrough();
  // A client that hangs up mid-upload makes both streams fail, perhaps more than once and after
  // the blob store stopped listening: every error is handled here (the store still sees the
  // first one through its pipeline), never left to crash the process.
  out.on('error', () => {});
  req.pipe(out);
  req.on('error', (err) => out.destroy(err));
  req.once('close', () => {
    if (!req.complete) out.destroy(Object.assign(new Error('the client closed the upload'), { code: 'ECONNRESET' }));
  });
  return out;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

const IdParams = z.object({ id: Id });

export function attachmentsRoutes(attachments: Attachments): FastifyPluginAsyncZod {
  return async (app) => {
    // Uploads are raw bytes of any type, streamed: no parser of this scope may read them
    // (the JSON one would buffer, and refuse anything past the JSON body limit).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

    app.post('/v1/attachments', {
      schema: {
        tags: ['attachments'],
        summary: 'Upload a file: the raw bytes as the body, with their Content-Type; streamed to the blob store',
        description: 'Refused with 413 too_large past the size limit (data.reason "size") or the uploader’s quota (data.reason "quota"). An upload no envelope lists within a day is deleted.',
        querystring: AttachmentUploadQuery,
        // For the reference only: the parser above hands no body to validation.
        consumes: ['application/octet-stream', '*/*'],
        body: z.unknown().describe('the file’s bytes, sent raw (not multipart); its Content-Type is kept and served back'),
        response: { 201: Attachment },
      },
    }, async (req, reply) => {
      const caller = callerOf(req);
      const contentType = mediaType(req.headers['content-type']);
      try {
        const attachment = await attachments.upload(caller, {
          source: bodyOf(req.raw),
          contentType,
          filename: req.query.filename ?? null,
          declaredBytes: declaredLength(req.raw),
        });
        return reply.status(201).send(attachment);
      } catch (err) {
        // The rest of a refused body is not worth reading: answer, then hang up.
        if (!req.raw.complete) reply.header('connection', 'close');
        throw err;
      }
    });

    app.get('/v1/attachments/usage', {
      schema: { tags: ['attachments'], summary: 'My attachment storage: bytes used, quota, largest upload', response: { 200: AttachmentUsage } },
    }, async (req) => attachments.usage(callerOf(req).userId));

    app.get('/v1/attachments/:id', {
      schema: {
        tags: ['attachments'],
        summary: 'Download an attachment (its uploader, and members of a conversation whose envelope lists it); supports Range',
        description: 'Not found for anyone else, including a member who left. Served with its uploaded Content-Type, inline only for images, audio and video; ETag is the quoted sha256.',
        params: IdParams,
        produces: ['*/*'],
      },
    }, async (req, reply) => {
      const row = await attachments.readable(callerOf(req).userId, req.params.id);
      const etag = `"${row.sha256}"`;
      reply.header('etag', etag).header('accept-ranges', 'bytes');
      if (etagMatches(req.headers['if-none-match'], etag)) return reply.status(304).send();

      const ifRange = req.headers['if-range'];
      const answer = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, row.size) : { kind: 'full' as const };
      if (answer.kind === 'unsatisfiable') {
        reply.header('content-range', `bytes */${row.size}`);
        throw new AppError('range_not_satisfiable', `the range is outside the ${row.size} bytes of this attachment`, { data: { size: row.size } });
      }
      const range = answer.kind === 'partial' ? answer.range : undefined;
      const body = await attachments.open(row, range);
      reply
        .type(row.content_type)
        .header('content-disposition', contentDisposition(servedInline(row.content_type) ? 'inline' : 'attachment', row.filename))
        .header('content-length', String(range ? range.end - range.start + 1 : row.size));
      if (range) reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${row.size}`);
      return reply.send(body);
    });

    app.delete('/v1/attachments/:id', {
      schema: { tags: ['attachments'], summary: 'Delete an upload of mine that no message lists (409 once one does)', params: IdParams },
    }, async (req, reply) => {
      await attachments.remove(callerOf(req).userId, req.params.id);
      return reply.status(204).send();
    });
  };
}
