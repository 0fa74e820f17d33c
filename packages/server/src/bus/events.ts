import type { Envelope, MarkerKind } from '@parley/protocol';

/**
 * What domain modules announce after a commit. The realtime module turns these into
 * socket frames for the right devices; the bus carries them between processes.
 * Each event names who must hear of it, so the gateway never queries to route it.
 */
export type DomainEvent =
  /** `origin`: the socket connection that sent it over WS (it gets the ack, not the echo). */
  | { type: 'message'; conversationId: string; recipientIds: string[]; envelope: Envelope; origin?: string }
  | { type: 'conversation.changed'; conversationId: string; recipientIds: string[] }
  | { type: 'conversation.removed'; conversationId: string; recipientIds: string[] }
  | { type: 'marker'; conversationId: string; userId: string; kind: MarkerKind; seq: number; recipientIds: string[] }
  | { type: 'typing'; conversationId: string; userId: string; active: boolean; recipientIds: string[] }
  | { type: 'presence'; userId: string; status: 'online' | 'offline'; lastSeenAt: string | null; recipientIds: string[] }
  | { type: 'session.revoked'; userId: string; sessionId: string }
  | { type: 'user.changed'; userId: string; recipientIds: string[] };

export type DomainEventType = DomainEvent['type'];
