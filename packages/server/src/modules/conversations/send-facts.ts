import type { MemberState } from '@parley/protocol';
import type { Kysely } from 'kysely';
import { precompile, type DB } from '../../storage/db.ts';
import type { Membership } from './queries.ts';

/** What the send path needs to know of a conversation before it writes. */
export interface SendFacts {
  membership: Membership;
  /** In a direct conversation: the other member (null in a group, or once they are gone). */
  peer: { userId: string; state: MemberState } | null;
}

const compile = (db: Kysely<DB>) =>
  precompile(2, (userId: string, conversationId: string) =>
    db
      .selectFrom('members as m')
      .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
      .leftJoin('members as p', (j) => j.onRef('p.conversation_id', '=', 'm.conversation_id').onRef('p.user_id', '<>', 'm.user_id').on('c.type', '=', 'direct'))
      .select([
        'm.conversation_id', 'm.user_id', 'c.type', 'm.role', 'm.state', 'm.joined_seq', 'm.read_seq', 'm.delivered_seq', 'm.request_sent',
        'c.last_seq', 'c.disappearing_seconds', 'p.user_id as peer_id', 'p.state as peer_state',
      ])
      .where('m.conversation_id', '=', conversationId)
      .where('m.user_id', '=', userId),
  );

/** Compiled once per database (the SQL differs by dialect). */
const compiled = new WeakMap<Kysely<DB>, ReturnType<typeof compile>>();

/**
 * The sender's membership and, in a direct conversation, the other member, in one query:
 * it runs on every send. Null for a non-member (answered as a conversation that does not exist).
 */
export async function findSendFacts(db: Kysely<DB>, userId: string, conversationId: string): Promise<SendFacts | null> {
  let query = compiled.get(db);
  if (!query) compiled.set(db, (query = compile(db)));
  const [row] = await query(db, userId, conversationId);
  if (!row) return null;
  return {
    membership: {
      conversationId: row.conversation_id,
      userId: row.user_id,
      type: row.type,
      role: row.role,
      state: row.state,
      joinedSeq: row.joined_seq,
      readSeq: row.read_seq,
      deliveredSeq: row.delivered_seq,
      requestSent: row.request_sent,
      lastSeq: row.last_seq,
      disappearingSeconds: row.disappearing_seconds,
    },
    peer: row.peer_id !== null && row.peer_state !== null ? { userId: row.peer_id, state: row.peer_state } : null,
  };
}
