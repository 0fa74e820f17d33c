import { Ack, History, HistoryBatch, HistoryBatchBody, HistoryQuery, Id, MarkerBody, MarkerResult, SendBody } from '@parley/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from '../../context.ts';
import { sendJsonPieces } from '../../body-pool.ts';
import type { Messages } from './actions.ts';

const Params = z.object({ id: Id });
const MessageParams = z.object({ id: Id, messageId: Id });
const tags = ['messages'];

export function messagesRoutes(messages: Messages): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/conversations/:id/messages', {
      schema: {
        tags,
        summary: 'Send an envelope: 201 with its ack; the same clientId from the same device again gets 200 and the same ack',
        params: Params,
        body: SendBody,
        response: { 200: Ack, 201: Ack },
      },
    }, async (req, reply) => {
      const { ack, created } = await messages.send(callerOf(req), req.params.id, req.body);
      return reply.status(created ? 201 : 200).send(ack);
    });

    app.get('/v1/conversations/:id/messages', {
      schema: {
        tags,
        summary: 'History in seq order: the first `limit` after `after`, or the last `limit` before `before` (the latest without either)',
        params: Params,
        querystring: HistoryQuery,
        response: { 200: History },
      },
    }, async (req, reply) => {
      // The JSON is written by the database (history.ts) and sent as it is (Fastify passes a
      // Buffer through unserialized); the schema above still documents it.
      const body = await messages.history(callerOf(req), req.params.id, req.query);
      return sendJsonPieces(reply, body.pieces, body.bytes);
    });

    app.post('/v1/sync/messages', {
      schema: {
        tags,
        summary:
          'History of many conversations in one request (a device catching up after a sync): for each conversation asked, in order, the page GET …/messages would answer with the same after/before and limit, or a not_found error. A response that reaches the size budget (8 MiB) stops early: ask again for the conversations it left out',
        body: HistoryBatchBody,
        response: { 200: HistoryBatch },
      },
    }, async (req, reply) => {
      const body = await messages.historyBatch(callerOf(req), req.body);
      return sendJsonPieces(reply, body.pieces, body.bytes);
    });

    app.delete('/v1/conversations/:id/messages/:messageId', {
      schema: { tags, summary: 'Unsend for everyone (the sender; admins in groups): the payload is erased and a delete envelope appended', params: MessageParams },
    }, async (req, reply) => {
      await messages.unsend(callerOf(req), req.params.id, req.params.messageId);
      return reply.status(204).send();
    });

    app.post('/v1/conversations/:id/read', {
      schema: { tags, summary: 'Move my read marker forward (never back; clamped to lastSeq)', params: Params, body: MarkerBody, response: { 200: MarkerResult } },
    }, async (req) => ({ seq: await messages.mark(callerOf(req), req.params.id, 'read', req.body.seq) }));

    app.post('/v1/conversations/:id/delivered', {
      schema: { tags, summary: 'Move my delivery marker forward (never back; clamped to lastSeq)', params: Params, body: MarkerBody, response: { 200: MarkerResult } },
    }, async (req) => ({ seq: await messages.mark(callerOf(req), req.params.id, 'delivered', req.body.seq) }));
  };
}
