import type { AppContext, Caller } from '../../context.ts';
import { AppError } from '../../errors.ts';

/** A typing indicator nobody refreshed for this long turns itself off. */
export const TYPING_TTL_MS = 5_000;

export interface TypingDeps {
  memberIds(conversationId: string): Promise<string[]>;
  /** Of `viewerIds`, who may see `subjectId` typing there (active members, no block, no unanswered request). */
  visibleTo(subjectId: string, conversationId: string, viewerIds: string[]): Promise<Set<string>>;
}

interface Indicator {
  timer: NodeJS.Timeout;
  /** The socket that last refreshed it: if that socket closes, the indicator stops. */
  connectionId: string;
}

/**
 * Typing indicators. Rate limited per user (`typing` bucket); over the limit the frame is
 * refused with `rate_limited` so a client can back off. An indicator expires by itself
 * after TYPING_TTL_MS without a refresh, and stops when the socket that set it closes.
 * State is per process: a user's indicator lives where their typing socket is.
 */
export function createTyping(ctx: AppContext, deps: TypingDeps, ttlMs = TYPING_TTL_MS) {
  const indicators = new Map<string, Indicator>();
  const keyOf = (userId: string, conversationId: string) => `${userId} ${conversationId}`;

  async function announce(userId: string, conversationId: string, active: boolean, members?: string[]): Promise<void> {
    const ids = members ?? (await deps.memberIds(conversationId));
    const viewers = await deps.visibleTo(userId, conversationId, ids);
    viewers.delete(userId);
    if (viewers.size > 0) ctx.emit({ type: 'typing', conversationId, userId, active, recipientIds: [...viewers] });
  }

  function expire(userId: string, conversationId: string): void {
    indicators.delete(keyOf(userId, conversationId));
    announce(userId, conversationId, false).catch((err) => ctx.log.warn({ err }, 'typing expiry failed'));
  }

  return {
    async update(caller: Caller, connectionId: string, conversationId: string, active: boolean): Promise<void> {
      await ctx.limits.take('typing', caller.userId);
      const members = await deps.memberIds(conversationId);
      // Not a member and no such conversation read the same.
      if (!members.includes(caller.userId)) throw new AppError('not_found', 'no such conversation');
      const key = keyOf(caller.userId, conversationId);
      const current = indicators.get(key);
      if (current) clearTimeout(current.timer);
      if (active) {
        const timer = setTimeout(() => expire(caller.userId, conversationId), ttlMs);
        timer.unref();
        indicators.set(key, { timer, connectionId });
      } else {
        indicators.delete(key);
      }
      await announce(caller.userId, conversationId, active, members);
    },

    /** A socket closed: whatever it was typing stops now rather than in a few seconds. */
    dropConnection(connectionId: string): void {
      for (const [key, indicator] of indicators) {
        if (indicator.connectionId !== connectionId) continue;
        clearTimeout(indicator.timer);
        const [userId, conversationId] = key.split(' ') as [string, string];
        expire(userId, conversationId);
      }
    },

    close(): void {
      for (const indicator of indicators.values()) clearTimeout(indicator.timer);
      indicators.clear();
    },
  };
}

export type Typing = ReturnType<typeof createTyping>;
