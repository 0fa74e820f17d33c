import type { Ack, Conversation, MarkerKind, SendBody } from '@parley/protocol';
import type { AppContext, Caller } from '../../context.ts';
import { createPresence } from './presence.ts';
import { MemoryPresenceStore, RedisPresenceStore, type PresenceStore } from './presence-store.ts';
import { createTyping } from './typing.ts';

export { userTopic, publishEvent, recipientsOf, FANOUT_TOPIC, FANOUT_THRESHOLD } from './routing.ts';
export { MemoryPresenceStore, RedisPresenceStore, type PresenceStore } from './presence-store.ts';
export { TYPING_TTL_MS } from './typing.ts';
export type { Presence, PresenceFrameData } from './presence.ts';
export type { Typing } from './typing.ts';

/** What the gateway needs of the conversations module. */
export interface ConversationsPort {
  /** The conversation as `userId` sees it, or null when they are not a member. */
  view(userId: string, conversationId: string): Promise<Conversation | null>;
  memberIds(conversationId: string): Promise<string[]>;
  /** Everyone sharing a conversation with `userId`. */
  peerIds(userId: string): Promise<string[]>;
  /** A sync cursor for now: `GET /v1/sync?cursor=` returns what changed after it. */
  currentCursor(): string | Promise<string>;
}

/** What the gateway needs of the messages module. */
export interface MessagesPort {
  /** `origin`: the sending socket, which gets the ack and not the echo. */
  send(caller: Caller, conversationId: string, body: SendBody, origin?: string): Promise<{ ack: Ack; created: boolean }>;
  mark(caller: Caller, conversationId: string, kind: MarkerKind, seq: number): Promise<unknown>;
}

/** What the realtime rules need of the graph module. */
export interface VisibilityPort {
  connections: {
    list(userId: string, state: 'connected', limit: number, cursor: string | undefined): Promise<{ connections: { user: { id: string } }[]; nextCursor: string | null }>;
  };
  presenceVisibleTo(subjectId: string, viewerIds: string[]): Promise<Set<string>>;
  typingVisibleTo(subjectId: string, conversationId: string, viewerIds: string[]): Promise<Set<string>>;
}

export interface RealtimeDeps {
  conversations: Pick<ConversationsPort, 'memberIds' | 'peerIds'>;
  graph: VisibilityPort;
  /** Defaults to Redis when REDIS_URL is set (presence shared by every process), else memory. */
  presenceStore?: PresenceStore;
}

/** Presence and typing: who is online, who is typing, and who may know it. */
export function createRealtime(ctx: AppContext, deps: RealtimeDeps) {
  const store =
    deps.presenceStore ?? (ctx.config.redisUrl ? new RedisPresenceStore(ctx.config.redisUrl, { log: ctx.log }) : new MemoryPresenceStore());
  const presence = createPresence(ctx, {
    store,
    peersOf: async (userId) => {
      const [sharing, connected] = await Promise.all([deps.conversations.peerIds(userId), connectedIds(deps.graph, userId)]);
      return [...new Set([...sharing, ...connected])];
    },
    visibleTo: (subjectId, viewerIds) => deps.graph.presenceVisibleTo(subjectId, viewerIds),
  });
  const typing = createTyping(ctx, {
    memberIds: (conversationId) => deps.conversations.memberIds(conversationId),
    visibleTo: (subjectId, conversationId, viewerIds) => deps.graph.typingVisibleTo(subjectId, conversationId, viewerIds),
  });
  return {
    presence,
    typing,
    async close(): Promise<void> {
      typing.close();
      await presence.close();
    },
  };
}

export type Realtime = ReturnType<typeof createRealtime>;

/** Every connection of a user, paged through at the largest page size. */
async function connectedIds(graph: VisibilityPort, userId: string): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await graph.connections.list(userId, 'connected', 200, cursor);
    for (const c of page.connections) out.push(c.user.id);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}
