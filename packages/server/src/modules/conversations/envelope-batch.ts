import type { Kysely } from 'kysely';
import { notFound } from '../../errors.ts';
import { uuidv7 } from '../../ids.ts';
import { plainRow, type DB, type MessageLog } from '../../storage/db.ts';
import type { MessageRow, NewEnvelope } from './envelope-log.ts';

/** What the batch form appends: plain user envelopes (no attachments, nothing else to write). */
export type BatchEnvelope = Omit<NewEnvelope, 'attachmentIds' | 'expiresAt' | 'disappearing'>;

/**
 * The batch form of `appendEnvelope`, for the send path's group commit: the same rows, seqs
 * and side effects, in a few statements per batch instead of several per envelope. Every
 * conversation's `last_seq` advances once by its number of envelopes (taking its row lock
 * on PostgreSQL); the envelopes get the seqs in the order given, expire by the
 * conversation's disappearing timer, and are inserted together. As `appendEnvelope` does
 * for a `message`, a conversation that gets one comes back from its other members'
 * archives. Runs inside `trx`; a throw rolls the whole batch back, so seqs stay gap-free.
 */
export async function appendEnvelopes(log: MessageLog, trx: Kysely<DB>, entries: readonly BatchEnvelope[], stamp: string): Promise<MessageRow[]> {
  if (entries.length === 0) return [];
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e.conversationId, (counts.get(e.conversationId) ?? 0) + 1);
  const heads = await log.advanceSeqs(trx, counts, stamp);
  const next = new Map<string, number>();
  for (const [id, n] of counts) {
    const head = heads.get(id);
    if (!head) throw notFound('no such conversation');
    next.set(id, head.lastSeq - n + 1);
  }
  const stampMs = Date.parse(stamp);
  const senders = new Map<string, string | null>();
  const rows = entries.map((e): MessageRow => {
    const seq = next.get(e.conversationId)!;
    next.set(e.conversationId, seq + 1);
    const seconds = heads.get(e.conversationId)!.disappearingSeconds;
    if (e.kind === 'message') {
      const sender = senders.get(e.conversationId);
      // Several senders: every member's archive is left (each is "another member" to one of them).
      senders.set(e.conversationId, sender === undefined || sender === e.senderId ? e.senderId : null);
    }
    return plainRow(e, uuidv7(), seq, stamp, seconds > 0 ? new Date(stampMs + seconds * 1000).toISOString() : null);
  });
  await log.insertMessages(trx, rows);
  if (senders.size) await log.unarchive(trx, [...senders].map(([conversationId, senderId]) => ({ conversationId, senderId })), stamp);
  return rows;
}
