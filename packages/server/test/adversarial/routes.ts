/**
 * Who may call each route, written down by hand. The suites take the route list from the
 * running app (its onRoute table), never from here, and fail on any route this table does
 * not classify: a new route cannot escape the hostile-input and authorization suites.
 */
import type { RouteEntry } from '../../src/http/app.ts';

/**
 * public: anyone, no token. user: any signed-in user, about their own data or a user id.
 * member: a member of the conversation `:id`. admin: an owner or admin of the group `:id`
 * (or, for a message or pin, its sender where the API allows that).
 * operator: the operator token. invite: anyone signed in who holds the invite `:token`.
 * attachment: its uploader, or a member of a conversation a message of which carries it.
 */
export type RouteClass = 'public' | 'user' | 'member' | 'admin' | 'operator' | 'invite' | 'attachment';

/** What a suite knows about the world it set up, to fill in bodies and path params. */
export interface Fixture {
  /** A user other than the caller (the target of user-addressed routes). */
  otherUserId: string;
  /** (Admin routes) a member the action targets: the owner, whom a plain member may not touch. */
  targetUserId?: string;
  conversationId: string;
  messageId: string;
}

export interface RouteSpec {
  class: RouteClass;
  /** A body the route accepts from a caller allowed to call it (authorization, not validation, must decide). */
  body?: (fx: Fixture) => unknown;
  /** A valid query string, without the `?`. */
  query?: string;
  /** The body is raw bytes (an upload), not JSON: the JSON limits do not apply, the size limit does. */
  raw?: boolean;
}

const send = () => ({ clientId: `c-${Math.random().toString(36).slice(2)}`, kind: 'message', content: { encoding: 'plain', data: '{"text":"hi"}' } });

export const ROUTES: Record<string, RouteSpec> = {
  // operations
  'GET /v1/health': { class: 'public' },
  'GET /metrics': { class: 'public' },
  'GET /v1/openapi.json': { class: 'public' },
  'OPTIONS /*': { class: 'public' },
  'GET /v1/ws': { class: 'public' }, // authenticates with its first frame

  // accounts and sessions
  'POST /v1/accounts': { class: 'public', body: () => ({ username: `u_${Math.random().toString(36).slice(2, 10)}`, password: 'correct horse battery' }) },
  'POST /v1/sessions': { class: 'public', body: () => ({ username: 'nobody_here', password: 'correct horse battery' }) },
  'GET /v1/sessions': { class: 'user' },
  'DELETE /v1/sessions/:id': { class: 'user' },
  'GET /v1/me': { class: 'user' },
  'PATCH /v1/me': { class: 'user', body: () => ({ bio: 'hello' }) },
  'DELETE /v1/me': { class: 'user', body: () => ({ password: 'not the password' }) },
  'GET /v1/me/export': { class: 'user' },
  'PUT /v1/me/password': { class: 'user', body: () => ({ currentPassword: 'not the password', newPassword: 'another long password' }) },
  'GET /v1/users/:id': { class: 'user' },
  'GET /v1/users': { class: 'user', query: 'query=a' },

  // privacy, connections, blocks
  'GET /v1/me/privacy': { class: 'user' },
  'PATCH /v1/me/privacy': { class: 'user', body: () => ({ readReceipts: true }) },
  'GET /v1/connections': { class: 'user' },
  'POST /v1/connections/:userId': { class: 'user' },
  'POST /v1/connections/:userId/accept': { class: 'user' },
  'DELETE /v1/connections/:userId': { class: 'user' },
  'GET /v1/blocks': { class: 'user' },
  'PUT /v1/blocks/:userId': { class: 'user' },
  'DELETE /v1/blocks/:userId': { class: 'user' },

  // conversations
  'POST /v1/conversations': { class: 'user', body: (fx) => ({ type: 'direct', userId: fx.otherUserId }) },
  'GET /v1/conversations': { class: 'user' },
  'GET /v1/conversations/:id': { class: 'member' },
  'PATCH /v1/conversations/:id': { class: 'admin', body: () => ({ title: 'renamed' }) },
  'POST /v1/conversations/:id/members': { class: 'admin', body: (fx) => ({ userIds: [fx.otherUserId] }) },
  'DELETE /v1/conversations/:id/members/:userId': { class: 'admin' },
  'PATCH /v1/conversations/:id/members/:userId': { class: 'admin', body: () => ({ role: 'admin' }) },
  'POST /v1/conversations/:id/accept': { class: 'member' },
  'POST /v1/conversations/:id/decline': { class: 'member' },
  'PUT /v1/conversations/:id/settings': { class: 'member', body: () => ({ muted: true }) },
  'POST /v1/conversations/:id/invites': { class: 'admin' },
  'GET /v1/conversations/:id/invites': { class: 'admin' },
  'DELETE /v1/conversations/:id/invites/:invite': { class: 'admin' },
  'POST /v1/invites/:token': { class: 'invite' },
  'GET /v1/sync': { class: 'user' },

  // safety
  'POST /v1/reports': { class: 'member', body: (fx) => ({ conversationId: fx.conversationId, messageIds: [fx.messageId], reason: 'spam' }) },
  'GET /v1/admin/reports': { class: 'operator' },
  'GET /v1/admin/reports/:id': { class: 'operator' },
  'POST /v1/admin/reports/:id/resolve': { class: 'operator', body: () => ({ resolution: 'handled' }) },

  // pins
  'GET /v1/conversations/:id/pins': { class: 'member' },
  'POST /v1/conversations/:id/pins': { class: 'admin', body: (fx) => ({ messageId: fx.messageId }) },
  'DELETE /v1/conversations/:id/pins/:messageId': { class: 'admin' },

  // attachments
  'POST /v1/attachments': { class: 'user', raw: true },
  'GET /v1/attachments/usage': { class: 'user' },
  'GET /v1/attachments/:id': { class: 'attachment' },
  'DELETE /v1/attachments/:id': { class: 'attachment' },

  // messages
  'POST /v1/conversations/:id/messages': { class: 'member', body: send },
  'GET /v1/conversations/:id/messages': { class: 'member', query: 'after=0' },
  // many conversations' pages at once: each conversation the caller may not read is a not_found item, never its messages
  'POST /v1/sync/messages': { class: 'user', body: (fx) => ({ conversations: [{ conversationId: fx.conversationId, after: 0 }] }) },
  'DELETE /v1/conversations/:id/messages/:messageId': { class: 'admin' },
  'POST /v1/conversations/:id/read': { class: 'member', body: () => ({ seq: 0 }) },
  'POST /v1/conversations/:id/delivered': { class: 'member', body: () => ({ seq: 0 }) },
};

export const routeKey = (r: Pick<RouteEntry, 'method' | 'url'>) => `${r.method} ${r.url}`;

/**
 * The app's routes that the suites attack: every registered route except HEAD (Fastify
 * adds one per GET; it runs the GET's handler) and the web app's static files.
 */
export function attackedRoutes(table: readonly RouteEntry[]): RouteEntry[] {
  return table.filter((r) => r.method !== 'HEAD' && r.url.startsWith('/') && (r.url.startsWith('/v1/') || r.url === '/metrics' || r.url === '/*'));
}

/** Routes of the app that the table above does not classify (must be empty). */
export function unclassified(table: readonly RouteEntry[]): string[] {
  return attackedRoutes(table).map(routeKey).filter((k) => !(k in ROUTES));
}

/** A route's declared auth must agree with its class: a public route is `none`, an operator route `operator`, the rest `user`. */
export function declaredAuthMismatches(table: readonly RouteEntry[]): string[] {
  const expected = (c: RouteClass) => (c === 'public' ? 'none' : c === 'operator' ? 'operator' : 'user');
  return attackedRoutes(table)
    .filter((r) => ROUTES[routeKey(r)] && expected(ROUTES[routeKey(r)]!.class) !== r.auth)
    .map((r) => `${routeKey(r)}: declared ${r.auth}, expected ${expected(ROUTES[routeKey(r)]!.class)}`);
}

/** Fill a route pattern's params (`:id`, `:userId`, …) from a function of the param name. */
export function fillPath(url: string, value: (param: string) => string): string {
  return url.replace(/:([A-Za-z]+)/g, (_, name: string) => value(name)).replace(/\/\*$/, '/v1/anything');
}
