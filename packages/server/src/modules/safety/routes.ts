import { Id, Report, ReportBody, ReportCreated, ReportList, ReportListQuery, ResolveReportBody } from '@parley/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from '../../context.ts';
import type { Reports } from './reports.ts';

const ReportParams = z.object({ id: Id });
/** The admin API answers to the operator token, not to a user's session. */
const OPERATOR = { auth: 'operator' as const };

export function safetyRoutes(reports: Reports): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/reports', {
      schema: {
        tags: ['reports'],
        summary: 'Report messages of a conversation I am in (optionally blocking their senders)',
        body: ReportBody,
        response: { 201: ReportCreated },
      },
    }, async (req, reply) => reply.status(201).send(await reports.create(callerOf(req).userId, req.body)));

    app.get('/v1/admin/reports', {
      config: OPERATOR,
      schema: { tags: ['admin'], summary: 'The moderation queue, oldest first (operator token)', querystring: ReportListQuery, response: { 200: ReportList } },
    }, async (req) => reports.list(req.query.status, req.query.limit, req.query.cursor));

    app.get('/v1/admin/reports/:id', {
      config: OPERATOR,
      schema: { tags: ['admin'], summary: 'One report (operator token)', params: ReportParams, response: { 200: Report } },
    }, async (req) => reports.get(req.params.id));

    app.post('/v1/admin/reports/:id/resolve', {
      config: OPERATOR,
      schema: {
        tags: ['admin'],
        summary: 'Resolve a report with a note of what was done (operator token); 409 if already resolved',
        params: ReportParams,
        body: ResolveReportBody,
        response: { 200: Report },
      },
    }, async (req) => reports.resolve(req.params.id, req.body.resolution));
  };
}
