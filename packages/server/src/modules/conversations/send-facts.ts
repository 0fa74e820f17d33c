import type { MemberState } from '@parley/protocol';
import type { Kysely } from 'kysely';
import { precompile, toBool, type DB } from '../../storage/db.ts';
import { mayWriteDirectSql } from '../graph/index.ts';
import type { Membership } from './queries.ts';

/** What the send path needs to know of a conversation before it writes. */
export interface SendFacts {
  membership: Membership;
  /**
   * In a direct conversation: the other member (null in a group, or once they are gone), and
   * whether the sender may write to them (the graph's block and deleted-account rule).
   */
  peer: { userId: string; state: MemberState; mayWrite: boolean } | null;
}

/**
 * The sender's member row, the conversation and (direct only) the other member's row and
 * whether the sender may write to them: what both forms select. The last is the graph's rule
 * (`mayWriteDirectSql`), asked here so a direct send needs one query before its commit.
 */
const factsOf = (db: Kysely<DB>) =>
  db
    .selectFrom('members as m')
    .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
    .leftJoin('members as p', (j) => j.onRef('p.conversation_id', '=', 'm.conversation_id').onRef('p.user_id', '<>', 'm.user_id').on('c.type', '=', 'direct'))
    .select((eb) => [
      'm.conversation_id', 'm.user_id', 'c.type', 'm.role', 'm.state', 'm.joined_seq', 'm.read_seq', 'm.delivered_seq', 'm.request_sent',
      'c.last_seq', 'c.disappearing_seconds', 'p.user_id as peer_id', 'p.state as peer_state',
      mayWriteDirectSql(eb.ref('m.user_id'), eb.ref('p.user_id')).as('peer_may_write'),
    ]);

const compile = (db: Kysely<DB>) =>
  precompile(2, (userId: string, conversationId: string) =>
    factsOf(db).where('m.conversation_id', '=', conversationId).where('m.user_id', '=', userId),
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
  return row ? toFacts(row) : null;
}

type FactsRow = Awaited<ReturnType<ReturnType<typeof compile>>>[number];

function toFacts(row: FactsRow): SendFacts {
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
    peer: row.peer_id !== null && row.peer_state !== null ? { userId: row.peer_id, state: row.peer_state, mayWrite: toBool(row.peer_may_write) } : null,
  };
}

/** Lookups one batched query answers at most (bound values stay far below every engine's limit). */
const MAX_BATCHED = 512;

/** The batched query for `size` (conversation, user) pairs, built and compiled once. */
const compileBatch = (db: Kysely<DB>, size: number) =>
  precompile(2 * size, (...args: string[]) =>
    factsOf(db)
      .where((eb) => eb(eb.refTuple('m.conversation_id', 'm.user_id'), 'in', Array.from({ length: size }, (_, i) => eb.tuple(args[2 * i]!, args[2 * i + 1]!)))),
  );

/**
 * `findSendFacts` for a server whose every query is a round trip (PostgreSQL): the lookups
 * asked within one turn of the event loop share one query (`(conversation_id, user_id) IN
 * (…)`), so concurrent sends cost one round trip between them instead of one each. A
 * lookup alone takes the single-row query. The batched query is compiled once per size
 * class (a power of two; the last pair fills the rest), not built anew for every batch.
 */
export function batchedSendFacts(db: Kysely<DB>): (userId: string, conversationId: string) => Promise<SendFacts | null> {
  const bySize = new Map<number, ReturnType<typeof compileBatch>>();
  let pending: { userId: string; conversationId: string; resolve(f: SendFacts | null): void; reject(err: unknown): void }[] = [];
  async function flush(batch: typeof pending): Promise<void> {
    if (batch.length === 1) {
      const only = batch[0]!;
      return findSendFacts(db, only.userId, only.conversationId).then(only.resolve, only.reject);
    }
    try {
      const size = 2 ** Math.ceil(Math.log2(batch.length));
      let query = bySize.get(size);
      if (!query) bySize.set(size, (query = compileBatch(db, size)));
      const args: string[] = [];
      for (let i = 0; i < size; i++) {
        const q = batch[Math.min(i, batch.length - 1)]!;
        args.push(q.conversationId, q.userId);
      }
      const rows = await query(db, ...args);
      const found = new Map(rows.map((r) => [`${r.conversation_id}\u0000${r.user_id}`, r]));
      for (const q of batch) {
        const row = found.get(`${q.conversationId}\u0000${q.userId}`);
        q.resolve(row ? toFacts(row) : null);
      }
    } catch (err) {
      for (const q of batch) q.reject(err);
    }
  }
  return (userId, conversationId) =>
    new Promise((resolve, reject) => {
      if (pending.length === 0) {
        setImmediate(() => {
          const all = pending;
          pending = [];
          for (let i = 0; i < all.length; i += MAX_BATCHED) void flush(all.slice(i, i + MAX_BATCHED));
        });
      }
      pending.push({ userId, conversationId, resolve, reject });
    });
}

/** Senders' facts kept at most (a Map: dropped whole past it, and at every change that matters). */
const CACHE_MAX = 100_000;

/**
 * `findSendFacts` with the answers kept in memory, for a database that reports every write
 * that could change them (`Database.watchSendFacts`: SQLite's triggers on members, blocks,
 * users and conversations, run inside the writing statement whatever code path wrote).
 * Any such change drops everything: they are rare next to sends (a membership, a block, an
 * account), and a send after one reads the database again. Not-members are not kept (every
 * refused send asks again).
 *
 * A lookup that was reading while a change happened does not keep what it read (it may be
 * from before the change). What a kept answer says of the conversation's counters
 * (`lastSeq`, `readSeq`, `deliveredSeq`) is as of its reading: the send path does not use
 * them.
 */
export class SendFactsCache {
  private readonly kept = new Map<string, SendFacts>();
  private generation = 0;

  constructor(private readonly load: (userId: string, conversationId: string) => Promise<SendFacts | null>) {}

  /** Something that may change a send's facts was written. */
  invalidate(): void {
    this.generation++;
    this.kept.clear();
  }

  async get(userId: string, conversationId: string): Promise<SendFacts | null> {
    const key = `${conversationId}\u0000${userId}`;
    const hit = this.kept.get(key);
    if (hit) return hit;
    const generation = this.generation;
    const facts = await this.load(userId, conversationId);
    if (facts && generation === this.generation) {
      if (this.kept.size >= CACHE_MAX) this.kept.clear();
      // Shared by every send of this member from now on: nobody may change it.
      Object.freeze(facts.membership);
      if (facts.peer) Object.freeze(facts.peer);
      this.kept.set(key, Object.freeze(facts));
    }
    return facts;
  }

  get size(): number {
    return this.kept.size;
  }
}
