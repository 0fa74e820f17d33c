import { coalesce } from '../../coalesce.ts';
import type { AppContext } from '../../context.ts';
import { nowIso } from '../../ids.ts';
import type { PresenceStore } from './presence-store.ts';

export type PresenceStatus = 'online' | 'offline';

export interface PresenceFrameData {
  userId: string;
  status: PresenceStatus;
  lastSeenAt: string | null;
}

export interface PresenceDeps {
  store: PresenceStore;
  /** Who may see `subjectId`'s presence now: their setting's audience, less blocks and unanswered requests. */
  viewersOf(subjectId: string): Promise<string[]>;
  /** Everyone whose presence `viewerId` might see, before the rules (a superset of what `visibleToViewer` keeps). */
  candidatesFor(viewerId: string): Promise<string[]>;
  /** Of `subjectIds`, those whose presence `viewerId` may see. */
  visibleToViewer(viewerId: string, subjectIds: string[]): Promise<Set<string>>;
  /** Of `viewerIds`, who may see `subjectId`'s presence (its setting, blocks, unanswered requests). */
  visibleTo(subjectId: string, viewerIds: string[]): Promise<Set<string>>;
}

/**
 * Online when a user's first socket anywhere is ready, offline (and last seen now) when the
 * last one closes. Each change is pushed to the peers the user's settings allow.
 */
export function createPresence(ctx: AppContext, deps: PresenceDeps) {
  // One user's changes are announced in the order they happened, even when a quick
  // reconnect makes an "offline" and an "online" race through their queries.
  const queues = new Map<string, Promise<void>>();

  function serialize(userId: string, work: () => Promise<void>): Promise<void> {
    const next = (queues.get(userId) ?? Promise.resolve()).then(work).catch((err) => ctx.log.warn({ err, userId }, 'presence update failed'));
    queues.set(userId, next);
    void next.then(() => {
      if (queues.get(userId) === next) queues.delete(userId);
    });
    return next;
  }

  async function announce(userId: string, status: PresenceStatus, lastSeenAt: string): Promise<void> {
    const viewers = (await deps.viewersOf(userId)).filter((id) => id !== userId);
    if (viewers.length > 0) ctx.emit({ type: 'presence', userId, status, lastSeenAt, recipientIds: viewers });
  }

  // Last seen, written before "offline" is announced (a peer may read it right after); the
  // users of a reconnect storm's many disconnects share a transaction.
  const writeLastSeen = coalesce<string, string>((batch) =>
    ctx.database.write(async (trx) => {
      for (const [userId, at] of batch) await trx.updateTable('users').set({ last_seen_at: at }).where('id', '=', userId).execute();
    }),
  );

  /**
   * Snapshots being computed, by viewer: the devices of one user that connect together (a
   * reconnect storm) share one computation instead of each checking every peer again.
   */
  const snapshots = new Map<string, Promise<PresenceFrameData[]>>();

  /** The peers of `viewerId` who are online now and whom `viewerId` may see. */
  function snapshot(viewerId: string): Promise<PresenceFrameData[]> {
    const running = snapshots.get(viewerId);
    if (running) return running;
    const work = computeSnapshot(viewerId).finally(() => snapshots.delete(viewerId));
    snapshots.set(viewerId, work);
    return work;
  }

  /**
   * A handful of queries and one presence-store lookup, whatever the size of the viewer's
   * groups: the candidates (connections, and co-members whose presence is public), those of
   * them online, and the rules for all of them at once.
   */
  async function computeSnapshot(viewerId: string): Promise<PresenceFrameData[]> {
    const candidates = (await deps.candidatesFor(viewerId)).filter((id) => id !== viewerId);
    if (candidates.length === 0) return [];
    const online = [...(await deps.store.onlineAmong(candidates))];
    if (online.length === 0) return [];
    const visible = await deps.visibleToViewer(viewerId, online);
    const at = nowIso();
    return online.filter((id) => visible.has(id)).map((userId) => ({ userId, status: 'online' as const, lastSeenAt: at }));
  }

  return {
    snapshot,

    /**
     * A socket of `userId` is ready: count it (announcing the user online if it is their
     * first anywhere), and return the peers online now whom the user may see.
     */
    async connected(userId: string): Promise<PresenceFrameData[]> {
      await serialize(userId, async () => {
        if (!(await deps.store.connect(userId))) return;
        await announce(userId, 'online', nowIso());
      });
      return snapshot(userId);
    },

    /** A socket of `userId` closed. */
    disconnected(userId: string): Promise<void> {
      return serialize(userId, async () => {
        if (!(await deps.store.disconnect(userId))) return;
        const at = nowIso();
        await writeLastSeen(userId, at);
        await announce(userId, 'offline', at);
      });
    },

    /**
     * Who may see `subjectId` may have changed (a privacy setting, a connection, an
     * unblock): if they are online, the viewers who may see them now are told so. Those shut
     * out are told by the graph, which knows who could see before (see presenceWithdrawn).
     */
    refresh(subjectId: string, viewerIds?: string[]): Promise<void> {
      return serialize(subjectId, async () => {
        if (!(await deps.store.onlineAmong([subjectId])).has(subjectId)) return;
        const allowed = viewerIds ? await deps.visibleTo(subjectId, viewerIds) : new Set(await deps.viewersOf(subjectId));
        allowed.delete(subjectId);
        if (allowed.size > 0) ctx.emit({ type: 'presence', userId: subjectId, status: 'online', lastSeenAt: nowIso(), recipientIds: [...allowed] });
      });
    },

    async isOnline(userId: string): Promise<boolean> {
      return (await deps.store.onlineAmong([userId])).has(userId);
    },

    async close(): Promise<void> {
      await Promise.all([...queues.values()]);
      await deps.store.close();
    },
  };
}

export type Presence = ReturnType<typeof createPresence>;
