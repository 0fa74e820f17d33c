/**
 * Envelope rows shaped like the ones Parley writes (uuidv7 ids, a client id of the
 * generator's format, a ~120-byte plain payload), so raw and Parley tables are compared
 * byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { uuidv7 } from '../../packages/server/src/ids.ts';

export interface Row {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  sender_device_id: string;
  client_id: string;
  kind: string;
  encoding: string;
  data: string;
  attachment_ids: string;
  created_at: string;
}

const PAD = 'x'.repeat(80);

/** Rows for `conversations`, round-robin, each conversation's seq counting from `nextSeq`. */
export function* rows(count: number, conversations: string[], sender: { userId: string; deviceId: string }): Generator<Row> {
  const runId = randomBytes(4).toString('hex');
  const seqs = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const conversationId = conversations[i % conversations.length]!;
    const seq = (seqs.get(conversationId) ?? 0) + 1;
    seqs.set(conversationId, seq);
    const t = performance.now();
    yield {
      id: uuidv7(),
      conversation_id: conversationId,
      seq,
      sender_id: sender.userId,
      sender_device_id: sender.deviceId,
      client_id: `${runId}-${i}`,
      kind: 'message',
      encoding: 'plain',
      data: `{"s":${i % 200},"n":${i},"t":${t},"text":"${PAD}"}`,
      attachment_ids: '[]',
      created_at: new Date().toISOString(),
    };
  }
}
