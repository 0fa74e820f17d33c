import {
  AddMembersBody,
  Conversation,
  ConversationList,
  ConversationListQuery,
  ConversationPatch,
  ConversationSettings,
  ConversationWithNotAdded,
  CreateConversationBody,
  Id,
  InviteList,
  InviteResult,
  MemberPatch,
  SyncQuery,
  SyncResult,
} from '@parley/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from '../../context.ts';
import type { Conversations } from './actions.ts';

const Params = z.object({ id: Id });
const MemberParams = z.object({ id: Id, userId: Id });
// Tokens are opaque to whoever holds one: anything that is not a live token is simply not found.
const TokenParams = z.object({ token: z.string().min(1).max(256).describe('the invite token (opaque)') });
const InviteParams = z.object({ id: Id, invite: z.string().min(1).max(128).regex(/^[A-Za-z0-9_-]+$/, 'must be an invite id or token') });
const tags = ['conversations'];

export function conversationsRoutes(conversations: Conversations): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/conversations', {
      schema: {
        tags,
        summary: 'Open a direct conversation (200 the existing one, 201 a new one) or create a group (201, with notAdded)',
        body: CreateConversationBody,
        response: { 200: Conversation, 201: z.union([ConversationWithNotAdded, Conversation]) },
      },
    }, async (req, reply) => {
      const caller = callerOf(req);
      const body = req.body;
      if (body.type === 'direct') {
        const { conversation, created } = await conversations.createDirect(caller, body.userId);
        return reply.status(created ? 201 : 200).send(conversation);
      }
      const { conversation, notAdded } = await conversations.createGroup(caller, body.title, body.memberIds);
      return reply.status(201).send({ ...conversation, notAdded });
    });

    app.get('/v1/conversations', {
      schema: { tags, summary: 'My conversations in a folder (inbox or message requests), most recently active first', querystring: ConversationListQuery, response: { 200: ConversationList } },
    }, async (req) => conversations.list(callerOf(req), req.query.folder, req.query.limit, req.query.cursor));

    app.get('/v1/conversations/:id', {
      schema: { tags, summary: 'One conversation as I see it (404 unless I am a member)', params: Params, response: { 200: Conversation } },
    }, async (req) => conversations.get(callerOf(req), req.params.id));

    app.patch('/v1/conversations/:id', {
      schema: {
        tags,
        summary: 'Change a group’s title, description or avatar (whoever infoEditableBy names), who may do so (admins), or the disappearing-message timer (groups: admins); each change is a system envelope',
        params: Params,
        body: ConversationPatch,
        response: { 200: Conversation },
      },
    }, async (req) => conversations.update(callerOf(req), req.params.id, req.body));

    app.post('/v1/conversations/:id/members', {
      schema: { tags, summary: 'Add people to a group (admins); those who may not be added come back in notAdded', params: Params, body: AddMembersBody, response: { 200: ConversationWithNotAdded } },
    }, async (req) => {
      const { conversation, notAdded } = await conversations.addMembers(callerOf(req), req.params.id, req.body.userIds);
      return { ...conversation, notAdded };
    });

    app.delete('/v1/conversations/:id/members/:userId', {
      schema: { tags, summary: 'Leave a group (yourself) or remove a member (admins; the owner cannot be removed)', params: MemberParams },
    }, async (req, reply) => {
      await conversations.removeMember(callerOf(req), req.params.id, req.params.userId);
      return reply.status(204).send();
    });

    app.patch('/v1/conversations/:id/members/:userId', {
      schema: {
        tags,
        summary: 'Change a member’s role: the owner makes and unmakes admins or hands ownership over (role owner); an admin may step down',
        params: MemberParams,
        body: MemberPatch,
        response: { 200: Conversation },
      },
    }, async (req) => conversations.setRole(callerOf(req), req.params.id, req.params.userId, req.body.role));

    app.post('/v1/conversations/:id/accept', {
      schema: { tags, summary: 'Accept a message request: the conversation moves to the inbox', params: Params, response: { 200: Conversation } },
    }, async (req) => conversations.accept(callerOf(req), req.params.id));

    app.post('/v1/conversations/:id/decline', {
      schema: { tags, summary: 'Decline a message request: it is hidden from you and the sender is not told', params: Params, response: { 200: Conversation } },
    }, async (req) => conversations.decline(callerOf(req), req.params.id));

    app.put('/v1/conversations/:id/settings', {
      schema: {
        tags,
        summary: 'My settings for this conversation: muted (optionally until a time), archived, pinned (at most 5; 409 limit_reached)',
        params: Params,
        body: ConversationSettings,
        response: { 200: Conversation },
      },
    }, async (req) => conversations.setSettings(callerOf(req), req.params.id, req.body));

    app.post('/v1/conversations/:id/invites', {
      schema: { tags, summary: 'Create an invite link token for a group (admins); only its hash is stored, so the token is shown only here', params: Params, response: { 200: InviteResult } },
    }, async (req) => conversations.createInvite(callerOf(req), req.params.id));

    app.get('/v1/conversations/:id/invites', {
      schema: { tags, summary: 'The group’s invite links that still work (admins), newest first; tokens are not shown again', params: Params, response: { 200: InviteList } },
    }, async (req) => ({ invites: await conversations.listInvites(callerOf(req), req.params.id) }));

    app.delete('/v1/conversations/:id/invites/:invite', {
      schema: { tags, summary: 'Revoke an invite link (admins), named by its id or by its token; joining by it then answers 404', params: InviteParams },
    }, async (req, reply) => {
      await conversations.revokeInvite(callerOf(req), req.params.id, req.params.invite);
      return reply.status(204).send();
    });

    app.post('/v1/invites/:token', {
      schema: { tags, summary: 'Join a group by an invite link token (also when already a member: the conversation)', params: TokenParams, response: { 200: Conversation } },
    }, async (req) => {
      const { conversation } = await conversations.join(callerOf(req), req.params.token);
      return conversation;
    });

    app.get('/v1/sync', {
      schema: { tags: ['sync'], summary: 'What changed since a cursor: conversations (with lastSeq) and removed ids; everything without a cursor', querystring: SyncQuery, response: { 200: SyncResult } },
    }, async (req) => conversations.sync(callerOf(req), req.query.cursor));
  };
}
