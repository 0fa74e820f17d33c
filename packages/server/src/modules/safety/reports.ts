import type { Report } from '@parley/protocol';
import type { Selectable } from 'kysely';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { nowIso, uuidv7 } from '../../ids.ts';
import type { ReportsTable } from '../../storage/schema.ts';
import { decodeCursor, insertBlocks, page } from '../graph/index.ts';

export interface NewReport {
  conversationId: string;
  messageIds: string[];
  reason: string;
  /** Without a messageId, an entry stands for the messageIds entry at its position. */
  evidence: { messageId?: string; content: string }[];
  block: boolean;
}

const parse = (json: string): unknown[] => {
  const v: unknown = JSON.parse(json);
  return Array.isArray(v) ? v : [];
};

function toReport(r: Selectable<ReportsTable>): Report {
  return {
    id: r.id,
    reporterId: r.reporter_id,
    reportedUserIds: parse(r.reported_user_ids) as string[],
    conversationId: r.conversation_id,
    messageIds: parse(r.message_ids) as string[],
    reason: r.reason,
    evidence: parse(r.evidence) as Report['evidence'],
    status: r.status,
    resolution: r.resolution,
    createdAt: r.created_at,
    resolvedAt: r.resolved_at,
  };
}

const badField = (field: string, message: string) => new AppError('invalid_request', `${field}: ${message}`, { data: { field } });

/**
 * The moderation queue. A report names messages of a conversation the reporter is in; the
 * reported users are those messages' senders as the server recorded them (never as the
 * client claims). The evidence is what the reporter's client showed: once messages are
 * end-to-end encrypted it is the only readable copy an operator will ever see.
 */
export function createReports(ctx: AppContext) {
  const { db } = ctx;
  return {
    async create(reporterId: string, input: NewReport): Promise<{ id: string }> {
      const member = await db
        .selectFrom('members')
        .select(['joined_seq'])
        .where('conversation_id', '=', input.conversationId)
        .where('user_id', '=', reporterId)
        .executeTakeFirst();
      // Someone who was never in it, or has left, is told what a non-member is always told.
      if (!member) throw new AppError('not_found', 'no such conversation');

      const wanted = [...new Set(input.messageIds)];
      const rows = await db
        .selectFrom('messages')
        .select(['id', 'sender_id', 'seq'])
        .where('conversation_id', '=', input.conversationId)
        .where('id', 'in', wanted)
        .execute();
      const senderOf = new Map(rows.filter((r) => r.seq >= member.joined_seq).map((r) => [r.id, r.sender_id]));
      const missing = wanted.filter((id) => !senderOf.has(id));
      if (missing.length > 0) throw badField('body.messageIds', `not messages of this conversation: ${missing.join(', ')}`);
      const reported = [...new Set(wanted.map((id) => senderOf.get(id)!))].filter((id) => id !== reporterId);
      if (reported.length === 0) throw badField('body.messageIds', 'these are your own messages');

      const evidence = input.evidence.map((e, i) => {
        const messageId = e.messageId ?? input.messageIds[i];
        const senderId = messageId === undefined ? undefined : senderOf.get(messageId);
        if (!messageId || !senderId) throw badField(`body.evidence.${i}.messageId`, 'not one of the reported messages');
        return { messageId, senderId, content: e.content };
      });

      const id = uuidv7();
      const blocked = await ctx.database.write(async (tx) => {
        await tx
          .insertInto('reports')
          .values({
            id,
            reporter_id: reporterId,
            conversation_id: input.conversationId,
            message_ids: JSON.stringify(wanted),
            reported_user_ids: JSON.stringify(reported),
            evidence: JSON.stringify(evidence),
            reason: input.reason,
            status: 'open',
            resolution: null,
            created_at: nowIso(),
            resolved_at: null,
          })
          .execute();
        return input.block ? insertBlocks(tx, reporterId, reported) : [];
      });
      ctx.log.info({ reportId: id, conversationId: input.conversationId }, 'report filed');
      for (const userId of blocked) ctx.emit({ type: 'user.changed', userId, recipientIds: [reporterId] });
      return { id };
    },

    async get(id: string): Promise<Report> {
      const row = await db.selectFrom('reports').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new AppError('not_found', 'no such report');
      return toReport(row);
    },

    /** The queue, oldest first. */
    async list(status: 'open' | 'resolved', limit: number, cursor: string | undefined): Promise<{ reports: Report[]; nextCursor: string | null }> {
      const after = decodeCursor(cursor, 2);
      let q = db.selectFrom('reports').selectAll().where('status', '=', status);
      if (after) {
        const [createdAt, id] = after as [string, string];
        q = q.where((eb) => eb.or([eb('created_at', '>', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '>', id)])]));
      }
      const rows = await q.orderBy('created_at', 'asc').orderBy('id', 'asc').limit(limit + 1).execute();
      const { items, nextCursor } = page(rows, limit, (r) => [r.created_at, r.id]);
      return { reports: items.map(toReport), nextCursor };
    },

    async resolve(id: string, resolution: string): Promise<Report> {
      const updated = await db
        .updateTable('reports')
        .set({ status: 'resolved', resolution, resolved_at: nowIso() })
        .where('id', '=', id)
        .where('status', '=', 'open')
        .returningAll()
        .executeTakeFirst();
      if (updated) {
        ctx.log.info({ reportId: id }, 'report resolved');
        return toReport(updated);
      }
      const exists = await db.selectFrom('reports').select('status').where('id', '=', id).executeTakeFirst();
      if (!exists) throw new AppError('not_found', 'no such report');
      throw new AppError('conflict', 'this report is already resolved');
    },
  };
}

export type Reports = ReturnType<typeof createReports>;
