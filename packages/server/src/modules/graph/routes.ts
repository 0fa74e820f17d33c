import { BlockList, BlockListQuery, ConnectionList, ConnectionListQuery, ConnectionResult, Id, PrivacyPatch, PrivacySettings } from '@parley/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from '../../context.ts';
import type { Blocks } from './blocks.ts';
import type { Connections } from './connections.ts';
import type { PrivacySettingsStore } from './settings.ts';

const UserParams = z.object({ userId: Id });

export function graphRoutes(deps: { connections: Connections; blocks: Blocks; privacy: PrivacySettingsStore }): FastifyPluginAsyncZod {
  const { connections, blocks, privacy } = deps;
  return async (app) => {
    app.get('/v1/me/privacy', {
      schema: { tags: ['privacy'], summary: 'My privacy settings', response: { 200: PrivacySettings } },
    }, async (req) => privacy.get(callerOf(req).userId));

    app.patch('/v1/me/privacy', {
      schema: { tags: ['privacy'], summary: 'Change some of my privacy settings', body: PrivacyPatch, response: { 200: PrivacySettings } },
    }, async (req) => privacy.update(callerOf(req).userId, req.body));

    app.get('/v1/connections', {
      schema: { tags: ['connections'], summary: 'My connections, or the requests I received or sent', querystring: ConnectionListQuery, response: { 200: ConnectionList } },
    }, async (req) => connections.list(callerOf(req).userId, req.query.state, req.query.limit, req.query.cursor));

    app.post('/v1/connections/:userId', {
      schema: {
        tags: ['connections'],
        summary: 'Ask to connect; if they already asked you, you are connected now',
        params: UserParams,
        response: { 200: ConnectionResult },
      },
    }, async (req) => connections.request(callerOf(req).userId, req.params.userId));

    app.post('/v1/connections/:userId/accept', {
      schema: { tags: ['connections'], summary: 'Accept a connection request', params: UserParams, response: { 200: ConnectionResult } },
    }, async (req) => connections.accept(callerOf(req).userId, req.params.userId));

    app.delete('/v1/connections/:userId', {
      schema: { tags: ['connections'], summary: 'Decline a request, cancel mine, or remove a connection (a declined requester is not told)', params: UserParams },
    }, async (req, reply) => {
      await connections.remove(callerOf(req).userId, req.params.userId);
      return reply.status(204).send();
    });

    app.get('/v1/blocks', {
      schema: { tags: ['blocks'], summary: 'The people I blocked', querystring: BlockListQuery, response: { 200: BlockList } },
    }, async (req) => blocks.list(callerOf(req).userId, req.query.limit, req.query.cursor));

    app.put('/v1/blocks/:userId', {
      schema: { tags: ['blocks'], summary: 'Block someone (never announced to them)', params: UserParams },
    }, async (req, reply) => {
      await blocks.block(callerOf(req).userId, req.params.userId);
      return reply.status(204).send();
    });

    app.delete('/v1/blocks/:userId', {
      schema: { tags: ['blocks'], summary: 'Unblock someone; what the block suspended is restored', params: UserParams },
    }, async (req, reply) => {
      await blocks.unblock(callerOf(req).userId, req.params.userId);
      return reply.status(204).send();
    });
  };
}
