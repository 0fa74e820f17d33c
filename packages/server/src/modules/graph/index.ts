import type { AppContext } from '../../context.ts';
import { blockedEitherWay, blockersOf, createBlocks } from './blocks.ts';
export { insertBlocks } from './blocks.ts';
export { decodeCursor, encodeCursor, page } from './paging.ts';
import { createConnections } from './connections.ts';
import { mayAddToGroup, mayWriteDirect, privacyOf, reach, relationship } from './policy.ts';
import { graphRoutes } from './routes.ts';
import { createPrivacySettings } from './settings.ts';
import { presenceCandidatesFor, presenceViewersOf, presenceVisibleTo, presenceVisibleToViewer, readMarkerVisibleTo, typingVisibleTo } from './visibility.ts';

export type { Reach, Relationship } from './policy.ts';
export { allows, mayWriteDirectSql } from './policy.ts';

/**
 * Connections, blocks and privacy settings: who may reach whom. Other modules ask here;
 * they never read the connections, blocks or privacy columns themselves.
 */
export function createGraph(ctx: AppContext) {
  const { db } = ctx;
  const connections = createConnections(ctx);
  const blocks = createBlocks(ctx);
  const privacy = createPrivacySettings(ctx);
  return {
    connections,
    blocks,
    privacy,
    relationship: (from: string, to: string) => relationship(db, from, to),
    privacyOf: (userIds: string[]) => privacyOf(db, userIds),
    /** 'allowed' (inbox), 'request' (their requests folder) or 'denied' (also for a block). */
    reach: (from: string, to: string) => reach(db, from, to),
    mayAddToGroup: (adder: string, target: string) => mayAddToGroup(db, adder, target),
    blockedEitherWay: (a: string, b: string) => blockedEitherWay(db, a, b),
    /**
     * May `from` send into their direct conversation with `to` (no block either way, `to` not
     * deleted)? The send path reads the same rule with its send facts (`mayWriteDirectSql`).
     */
    mayWriteDirect: (from: string, to: string) => mayWriteDirect(db, from, to),
    /** A user who blocked you is not found. */
    async canSee(viewerId: string, targetId: string): Promise<boolean> {
      if (viewerId === targetId) return true;
      return (await blockersOf(db, viewerId, [targetId])).size === 0;
    },
    /** Of `viewerIds`, who may see `subjectId` online and last seen (setting, blocks, unanswered requests). */
    presenceVisibleTo: (subjectId: string, viewerIds: string[]) => presenceVisibleTo(db, subjectId, viewerIds),
    /** Of `subjectIds`, whose presence `viewerId` may see (the same rules, every subject in a few queries). */
    presenceVisibleToViewer: (viewerId: string, subjectIds: string[]) => presenceVisibleToViewer(db, viewerId, subjectIds),
    /** Whose presence `viewerId` might see: their connections, and co-members whose presence is public. */
    presenceCandidatesFor: (viewerId: string) => presenceCandidatesFor(db, viewerId),
    /** Who may see `subjectId`'s presence now (their setting's audience, less blocks and unanswered requests). */
    presenceViewersOf: (subjectId: string) => presenceViewersOf(db, subjectId),
    /** Of `viewerIds`, who may see `subjectId` typing in `conversationId` (active members, no block). */
    typingVisibleTo: (subjectId: string, conversationId: string, viewerIds: string[]) => typingVisibleTo(db, subjectId, conversationId, viewerIds),
    /** Of `viewerIds`, who may see `subjectId`'s read marker (readReceipts on for both, no block, no unanswered request). */
    readMarkerVisibleTo: (subjectId: string, conversationId: string, viewerIds: string[]) => readMarkerVisibleTo(db, subjectId, conversationId, viewerIds),
    async visibleAmong(viewerId: string, targetIds: string[]): Promise<Set<string>> {
      const hidden = await blockersOf(db, viewerId, targetIds);
      return new Set(targetIds.filter((id) => !hidden.has(id)));
    },
  };
}

export type Graph = ReturnType<typeof createGraph>;

export function createGraphRoutes(graph: Graph) {
  return graphRoutes(graph);
}
