import type { ContentEncoding, Envelope, EnvelopeKind, SystemEvent } from '@parley/protocol';
import type { Kysely, Selectable } from 'kysely';
import type { Caller } from '../../context.ts';
import { uuidv7 } from '../../ids.ts';
import { plainRow, type DB, type PlainEnvelope } from '../../storage/db.ts';
import type { MessagesTable } from '../../storage/schema.ts';

export type MessageRow = Selectable<MessagesTable>;

/** A plain envelope, with what only the single form takes: attachments, a fixed expiry, the timer. */
export interface NewEnvelope extends PlainEnvelope {
  kind: EnvelopeKind;
  attachmentIds?: string[];
  expiresAt?: string | null;
  /** Expire by the conversation's disappearing timer as it stands in this transaction (user envelopes). */
  disappearing?: boolean;
}

/**
 * Append an envelope to a conversation's log inside `trx`: the conversation row's
 * `last_seq` is the counter, so the increment takes that row's lock (PostgreSQL) and a
 * rolled-back insert gives its seq back. That is what keeps seqs gap-free.
 */
export async function appendEnvelope(trx: Kysely<DB>, e: NewEnvelope, stamp: string): Promise<MessageRow> {
  const { last_seq: seq, disappearing_seconds: seconds } = await trx
    .updateTable('conversations')
    .set((eb) => ({ last_seq: eb('last_seq', '+', 1), updated_at: stamp }))
    .where('id', '=', e.conversationId)
    .returning(['last_seq', 'disappearing_seconds'])
    .executeTakeFirstOrThrow();
  const expiresAt = e.disappearing && seconds > 0 ? new Date(Date.parse(stamp) + seconds * 1000).toISOString() : (e.expiresAt ?? null);
  const row = plainRow(e, uuidv7(), seq, stamp, expiresAt);
  if (e.attachmentIds?.length) row.attachment_ids = JSON.stringify(e.attachmentIds);
  await trx.insertInto('messages').values(row).execute();
  if (e.kind === 'message') await unarchiveFor(trx, e.conversationId, e.senderId, stamp);
  return row;
}

/**
 * WhatsApp's rule: a new message brings an archived conversation back to the inbox of every
 * other member who archived it, unless they muted it (then it stays archived). The partial
 * index on archived members makes this a probe that finds nothing in the common case.
 */
async function unarchiveFor(trx: Kysely<DB>, conversationId: string, senderId: string, stamp: string): Promise<void> {
  await trx
    .updateTable('members')
    .set({ archived: 0, updated_at: stamp })
    .where('conversation_id', '=', conversationId)
    .where('archived', '=', 1)
    .where('user_id', '!=', senderId)
    .where((eb) => eb.or([eb('muted', '=', 0), eb.and([eb('muted_until', 'is not', null), eb('muted_until', '<=', stamp)])]))
    .execute();
}

/**
 * A `system` envelope: who did what to the conversation, so history shows it. Its payload
 * is plain JSON of the protocol's SystemContent; clients render it.
 */
export function appendSystem(trx: Kysely<DB>, conversationId: string, actor: Caller, event: SystemEvent, data: Record<string, unknown>, stamp: string): Promise<MessageRow> {
  return appendEnvelope(
    trx,
    {
      conversationId,
      senderId: actor.userId,
      senderDeviceId: actor.sessionId,
      clientId: `system-${uuidv7()}`,
      kind: 'system',
      encoding: 'plain',
      data: JSON.stringify({ type: 'system', event, actorId: actor.userId, data }),
    },
    stamp,
  );
}

/** The wire form. An unsent or expired envelope keeps its metadata and loses its payload. */
export function toEnvelope(row: MessageRow, nowIso?: string): Envelope {
  // The clock is read only for an envelope that expires (most never do).
  const expired = row.expires_at !== null && row.expires_at <= (nowIso ?? new Date().toISOString());
  const refs: Envelope['refs'] = {};
  if (row.ref_target) refs.target = row.ref_target;
  if (row.ref_reply_to) refs.replyTo = row.ref_reply_to;
  const env: Envelope = {
    id: row.id,
    conversationId: row.conversation_id,
    seq: row.seq,
    senderId: row.sender_id,
    senderDeviceId: row.sender_device_id,
    clientId: row.client_id,
    kind: row.kind as EnvelopeKind,
    refs,
    content: row.deleted_at || expired || row.encoding === null || row.data === null ? null : { encoding: row.encoding as ContentEncoding, data: row.data },
    // Most envelopes carry no attachment: skip parsing their '[]'.
    attachmentIds: expired || row.deleted_at || row.attachment_ids === '[]' ? [] : (JSON.parse(row.attachment_ids) as string[]),
    createdAt: row.created_at,
  };
  if (row.edited_at) env.editedAt = row.edited_at;
  if (row.deleted_at) env.deletedAt = row.deleted_at;
  if (row.expires_at) env.expiresAt = row.expires_at;
  return env;
}
