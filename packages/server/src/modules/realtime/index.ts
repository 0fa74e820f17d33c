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
  presenceVisibleTo(subjectId: string, viewerIds: string[]): Promise<Set<string>>;
  presenceVisibleToViewer(viewerId: string, subjectIds: string[]): Promise<Set<string>>;
  presenceCandidatesFor(viewerId: string): Promise<string[]>;
  presenceViewersOf(subjectId: string): Promise<string[]>;
  typingVisibleTo(subjectId: string, conversationId: string, viewerIds: string[]): Promise<Set<string>>;
}

export interface RealtimeDeps {
  conversations: Pick<ConversationsPort, 'memberIds'>;
  graph: VisibilityPort;
  /** Defaults to Redis when REDIS_URL is set (presence shared by every process), else memory. */
  presenceStore?: PresenceStore;
}

/** Presence and typing: who is online, who is typing, and who may know it. */
export function createRealtime(ctx: AppContext, deps: RealtimeDeps) {
  const store =
    deps.presenceStore ?? (ctx.config.redisUrl ? new RedisPresenceStore(ctx.config.redisUrl, { log: ctx.log }) : new MemoryPresenceStore());
  const { graph } = deps;
  const presence = createPresence(ctx, {
    store,
    viewersOf: (subjectId) => graph.presenceViewersOf(subjectId),
    candidatesFor: (viewerId) => graph.presenceCandidatesFor(viewerId),
    visibleToViewer: (viewerId, subjectIds) => graph.presenceVisibleToViewer(viewerId, subjectIds),
    visibleTo: (subjectId, viewerIds) => graph.presenceVisibleTo(subjectId, viewerIds),
  });
  const typing = createTyping(ctx, {
    memberIds: (conversationId) => deps.conversations.memberIds(conversationId),
    visibleTo: (subjectId, conversationId, viewerIds) => graph.typingVisibleTo(subjectId, conversationId, viewerIds),
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

