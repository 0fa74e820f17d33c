import { Id, Pin, PinBody, PinList } from '@parley/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from '../../context.ts';
import type { Pins } from './actions.ts';

const ConversationParams = z.object({ id: Id });
const PinParams = z.object({ id: Id, messageId: Id });

export function pinsRoutes(pins: Pins): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/v1/conversations/:id/pins', {
      schema: { tags: ['pins'], summary: 'The pinned messages of a conversation, most recently pinned first', params: ConversationParams, response: { 200: PinList } },
    }, async (req) => ({ pins: await pins.list(callerOf(req), req.params.id) }));

    app.post('/v1/conversations/:id/pins', {
      schema: {
        tags: ['pins'],
        summary: 'Pin a message (any member of a direct conversation; admins in a group); a system envelope announces it',
        description: '201 with the new pin, or 200 with the existing one when it was already pinned (nothing is announced then).',
        params: ConversationParams,
        body: PinBody,
        response: { 200: Pin, 201: Pin },
      },
    }, async (req, reply) => {
      const { pin, created } = await pins.pin(callerOf(req), req.params.id, req.body.messageId);
      return reply.status(created ? 201 : 200).send(pin);
    });

    app.delete('/v1/conversations/:id/pins/:messageId', {
      schema: { tags: ['pins'], summary: 'Unpin a message (same rule as pinning); a system envelope announces it', params: PinParams },
    }, async (req, reply) => {
      await pins.unpin(callerOf(req), req.params.id, req.params.messageId);
      return reply.status(204).send();
    });
  };
}
