import {
  AccountExport,
  AuthResult,
  DeleteAccountBody,
  Id,
  PasswordChangeBody,
  ProfilePatch,
  SessionList,
  SignInBody,
  SignUpBody,
  User,
  UserList,
  UserSearchQuery,
} from '@parley/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Accounts } from './actions.ts';
import type { AccountLifecycle } from './lifecycle.ts';

/** Who may see whom: a user who blocked you is not found. Provided by the graph module. */
export interface Visibility {
  canSee(viewerId: string, targetId: string): Promise<boolean>;
  visibleAmong(viewerId: string, targetIds: string[]): Promise<Set<string>>;
}

const IdParams = z.object({ id: Id });

export function accountsRoutes(accounts: Accounts, visibility: Visibility): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/accounts', {
      config: { auth: 'none' },
      schema: { tags: ['accounts'], summary: 'Sign up: create an account and a first session', body: SignUpBody, response: { 201: AuthResult } },
    }, async (req, reply) => reply.status(201).send(await accounts.signUp(req.body)));

    app.post('/v1/sessions', {
      config: { auth: 'none' },
      schema: { tags: ['accounts'], summary: 'Sign in: a new session for this device (429 with Retry-After when attempts run out)', body: SignInBody, response: { 201: AuthResult } },
    }, async (req, reply) => reply.status(201).send(await accounts.signIn(req.body, req.ip)));

    app.get('/v1/sessions', {
      schema: { tags: ['accounts'], summary: 'The devices signed in to this account', response: { 200: SessionList } },
    }, async (req) => ({ sessions: await accounts.listSessions(callerOf(req)) }));

    app.delete('/v1/sessions/:id', {
      schema: { tags: ['accounts'], summary: 'Sign a device out; its token stops working and its sockets close', params: IdParams },
    }, async (req, reply) => {
      await accounts.revokeSession(callerOf(req), req.params.id);
      return reply.status(204).send();
    });

    app.get('/v1/me', {
      schema: { tags: ['accounts'], summary: 'My profile', response: { 200: User } },
    }, async (req) => accounts.getProfile(callerOf(req).userId));

    app.patch('/v1/me', {
      schema: { tags: ['accounts'], summary: 'Change my profile', body: ProfilePatch, response: { 200: User } },
    }, async (req) => accounts.updateProfile(callerOf(req), req.body));

    app.put('/v1/me/password', {
      schema: { tags: ['accounts'], summary: 'Change my password; every other session is signed out', body: PasswordChangeBody },
    }, async (req, reply) => {
      await accounts.changePassword(callerOf(req), req.body.currentPassword, req.body.newPassword);
      return reply.status(204).send();
    });

    app.get('/v1/users/:id', {
      schema: { tags: ['accounts'], summary: 'A public profile (not found if they blocked you; a deleted account shows as deleted)', params: IdParams, response: { 200: User } },
    }, async (req) => {
      const caller = callerOf(req);
      // A deleted account answers as such (history still names it), never with its old name.
      const user = await accounts.getUser(req.params.id);
      if (!(await visibility.canSee(caller.userId, user.id))) throw new AppError('not_found', 'no such user');
      return user;
    });

    app.get('/v1/users', {
      schema: { tags: ['accounts'], summary: 'Search people by username or display name prefix', querystring: UserSearchQuery, response: { 200: UserList } },
    }, async (req) => {
      const caller = callerOf(req);
      // The page is cut before the visibility filter, so a page may hold fewer than `limit`.
      const found = await accounts.search(req.query.query, req.query.limit, req.query.cursor);
      const visible = await visibility.visibleAmong(caller.userId, found.users.map((u) => u.id));
      return { users: found.users.filter((u) => visible.has(u.id)), nextCursor: found.nextCursor };
    });
  };
}

/** Export and deletion of one's own account. */
export function accountLifecycleRoutes(lifecycle: AccountLifecycle): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/v1/me/export', {
      schema: { tags: ['accounts'], summary: 'Everything the server holds about me, as JSON (profile, settings, devices, connections, blocks, conversations, the envelopes I sent)', response: { 200: AccountExport } },
    }, async (req, reply) => {
      const data = await lifecycle.export(callerOf(req));
      return reply.header('content-disposition', 'attachment; filename="parley-export.json"').send(data);
    });

    app.delete('/v1/me', {
      schema: { tags: ['accounts'], summary: 'Delete my account (password required); the others keep their conversations and see a deleted account', body: DeleteAccountBody },
    }, async (req, reply) => {
      await lifecycle.delete(callerOf(req), req.body.password);
      return reply.status(204).send();
    });
  };
}
