import { LIMITS, payloadBytes, type Ack, type MarkerKind, type SendBody } from '@parley/protocol';
import type { Kysely } from 'kysely';
import type { AppContext, Caller } from '../../context.ts';
import { AppError, notFound } from '../../errors.ts';
import type { DB } from '../../storage/db.ts';
import { appendEnvelope, appendEnvelopes, batchedSendFacts, findSendFacts, SendFactsCache, toEnvelope, type BatchEnvelope, type Conversations, type Membership, type MessageRow } from '../conversations/index.ts';
import type { Graph } from '../graph/index.ts';
import { GroupCommit, type Outcome } from './group-commit.ts';
import { createHistory } from './history.ts';

export type { HistoryQuery } from './history.ts';

/** What sends and unsends need from the attachments module. */
export interface MessageAttachments {
  /** Of `ids`, those the user may list in a message: their own uploads, or files they may read (forwarding). */
  readableAmong(userId: string, ids: readonly string[]): Promise<Set<string>>;
  /** Inside the transaction: delete the rows of those of `ids` nothing uses any more; returns them. */
  deleteUnused(trx: Kysely<DB>, ids: readonly string[]): Promise<string[]>;
  /** After the commit: delete their bytes. */
  discardBlobs(ids: readonly string[]): Promise<void>;
}

export interface MessagesDeps {
  graph: Graph;
  conversations: Conversations;
  attachments: MessageAttachments;
}


const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const invalid = (field: string, message: string) => new AppError('invalid_request', `${field}: ${message}`, { data: { field } });

const toAck = (row: Pick<MessageRow, 'id' | 'seq' | 'created_at'>): Ack => ({ id: row.id, seq: row.seq, createdAt: row.created_at });

/** What the send path decided before its transaction; the transaction re-checks what can race. */
interface Plan {
  caller: Caller;
  membership: Membership;
  body: SendBody;
  /** In a direct conversation: the other member. */
  peerId: string | null;
  /** The sender's messages are capped: the other side has not accepted their request. */
  requester: boolean;
  attachmentIds: string[];
}

interface Committed {
  row: MessageRow;
  /** False: a retry (or a twin in the same batch) of a send already stored; `row` is the first. */
  created: boolean;
  /** The sender answered a request by replying: it is now accepted. */
  accepted: boolean;
  /** Who hears of it, read in the same transaction (no await between commit and emit keeps events in seq order). */
  recipientIds: string[];
}

export interface SendResult {
  ack: Ack;
  created: boolean;
}

/** PostgreSQL: deadlock detected, serialization failure (the transaction was rolled back whole). */
const RETRYABLE = new Set(['40P01', '40001']);

/** A send with nothing to write but its envelope: it takes the batch form. */
const isPlain = (p: Plan) => !p.requester && p.membership.state === 'active' && p.attachmentIds.length === 0 && p.body.kind !== 'edit';

const clientKey = (deviceId: string, clientId: string) => `${deviceId}\u0000${clientId}`;

export function createMessages(ctx: AppContext, deps: MessagesDeps) {
  const { db, config } = ctx;
  const { graph, conversations } = deps;

  const { writerLanes, messageLog } = ctx.database;
  // Every PostgreSQL query is a round trip: concurrent sends share one for their facts.
  // Where the database reports every write that could change them (embedded SQLite), they
  // are kept in memory between those writes.
  let sendFacts = ctx.database.dialect === 'postgres' ? batchedSendFacts(db) : (userId: string, conversationId: string) => findSendFacts(db, userId, conversationId);
  if (ctx.database.watchSendFacts) {
    const cache = new SendFactsCache(sendFacts);
    ctx.database.watchSendFacts(() => cache.invalidate());
    sendFacts = (userId, conversationId) => cache.get(userId, conversationId);
  }
  const batcher = new GroupCommit<Plan>({
    // As conversations.write does (its change clock keeps sync cursors behind it), on the writer's connections.
    transact: async (_lane, fn) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await conversations.clock.write((stamp, ms) => ctx.database.commitBatch((trx) => fn(trx, stamp, ms)));
        } catch (err) {
          if (attempt >= 3 || !RETRYABLE.has((err as { code?: string })?.code ?? '')) throw err;
        }
      }
    },
    run: commitBatch,
    lanes: writerLanes,
    windowMs: 1,
    // SQLite: one writer, so a batch is as big as what arrived during the last commit's fsync.
    maxBatch: ctx.database.dialect === 'sqlite' ? 1024 : 256,
  });

  /** Shape rules the schema cannot express (shared by HTTP and WebSocket sends). */
  function checkBody(body: SendBody): void {
    if (payloadBytes(body.content) > LIMITS.payloadBytes) throw new AppError('too_large', `content.data: at most ${LIMITS.payloadBytes} bytes`, { data: { field: 'content.data' } });
    if (body.content.encoding === 'mls' && !BASE64.test(body.content.data)) throw invalid('content.data', 'an mls payload is base64');
    // PostgreSQL text cannot hold NUL: refuse it on every transport, not only where HTTP filters it.
    if (body.content.data.includes('\u0000')) throw invalid('content.data', 'may not contain NUL');
    if (body.clientId.includes('\u0000')) throw invalid('clientId', 'may not contain NUL');
    const target = body.refs?.target;
    if ((body.kind === 'edit' || body.kind === 'reaction') && !target) throw invalid('refs.target', `a ${body.kind} names the message it applies to`);
    if (body.kind === 'message' && target) throw invalid('refs.target', 'only edits and reactions have a target');
    if (body.kind !== 'message' && body.attachmentIds?.length) throw invalid('attachmentIds', 'only messages carry attachments');
  }

  async function findByClientId(sessionId: string, clientId: string): Promise<MessageRow | undefined> {
    return db.selectFrom('messages').selectAll().where('sender_device_id', '=', sessionId).where('client_id', '=', clientId).executeTakeFirst();
  }

  const conflictingClientId = () => new AppError('conflict', 'clientId: already used by this device in another conversation', { data: { field: 'clientId' } });

  function replay(row: MessageRow, conversationId: string): { ack: Ack; created: false } {
    if (row.conversation_id !== conversationId) throw conflictingClientId();
    return { ack: toAck(row), created: false };
  }

  async function findInConversation(conversationId: string, messageId: string, floor: number): Promise<MessageRow | undefined> {
    const row = await db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).where('id', '=', messageId).executeTakeFirst();
    return row && row.seq >= floor ? row : undefined;
  }

  async function plan(caller: Caller, conversationId: string, body: SendBody): Promise<Plan> {
    const facts = await sendFacts(caller.userId, conversationId);
    if (!facts) throw notFound('no such conversation');
    const { membership: m, peer } = facts;
    let peerId: string | null = null;
    let requester = false;
    if (m.type === 'direct' && peer) {
      peerId = peer.userId;
      // A block (or a deleted account) reads exactly like privacy settings that forbid contact.
      // The graph's rule, read with the send facts (no query of its own).
      if (!peer.mayWrite) throw new AppError('messaging_not_allowed', 'you cannot message this person');
      requester = m.state === 'active' && peer.state !== 'active';
      // An unanswered request is still governed by the recipient's settings: "nobody" stops it now.
      if (requester && (await graph.reach(caller.userId, peer.userId)) === 'denied') throw new AppError('messaging_not_allowed', 'you cannot message this person');
    }
    const attachmentIds = [...new Set(body.attachmentIds ?? [])];
    if (requester) {
      if (attachmentIds.length) throw new AppError('request_pending', 'no attachments until your message request is accepted');
      if (m.requestSent >= config.requestMaxMessages) throw new AppError('request_pending', `at most ${config.requestMaxMessages} messages until your message request is accepted`);
    }
    await ctx.limits.take('send', caller.userId);

    const floor = m.joinedSeq;
    const target = body.refs?.target;
    if (target) {
      const t = await findInConversation(conversationId, target, floor);
      if (!t || t.deleted_at || t.kind === 'delete' || t.kind === 'system') throw new AppError('not_found', 'refs.target: no such message', { data: { field: 'refs.target' } });
      if (body.kind === 'edit' && (t.sender_id !== caller.userId || t.kind !== 'message')) throw new AppError('forbidden', 'you can only edit your own messages', { data: { field: 'refs.target' } });
    }
    const replyTo = body.refs?.replyTo;
    if (replyTo && !(await findInConversation(conversationId, replyTo, floor))) {
      throw new AppError('not_found', 'refs.replyTo: no such message', { data: { field: 'refs.replyTo' } });
    }
    if (attachmentIds.length) {
      // One's own uploads, or files one may read: a forward lists the original's attachments again.
      const usable = await deps.attachments.readableAmong(caller.userId, attachmentIds);
      if (usable.size !== attachmentIds.length) throw invalid('attachmentIds', 'each must be an attachment you uploaded or may read');
    }
    return { caller, membership: m, body, peerId, requester, attachmentIds };
  }

  /** The writes of one send that is not plain (a request, an acceptance, an edit, attachments), inside the batch transaction. */
  async function commitOne(trx: Kysely<DB>, p: Plan, stamp: string): Promise<{ row: MessageRow; accepted: boolean }> {
    const { caller, membership: m, body } = p;
    const conversationId = m.conversationId;
    if (p.requester && p.peerId) {
      const peer = await trx.selectFrom('members').select('state').where('conversation_id', '=', conversationId).where('user_id', '=', p.peerId).executeTakeFirst();
      if (peer && peer.state !== 'active') {
        const counted = await trx
          .updateTable('members')
          .set((eb) => ({ request_sent: eb('request_sent', '+', 1) }))
          .where('conversation_id', '=', conversationId)
          .where('user_id', '=', caller.userId)
          .where('request_sent', '<', config.requestMaxMessages)
          .executeTakeFirst();
        if (Number(counted.numUpdatedRows) === 0) throw new AppError('request_pending', `at most ${config.requestMaxMessages} messages until your message request is accepted`);
      }
    }
    let accepted = false;
    if (m.state !== 'active') {
      // Replying to a message request accepts it.
      const res = await trx
        .updateTable('members')
        .set({ state: 'active', updated_at: stamp })
        .where('conversation_id', '=', conversationId)
        .where('user_id', '=', caller.userId)
        .where('state', '!=', 'active')
        .executeTakeFirst();
      accepted = Number(res.numUpdatedRows) > 0;
    }
    const row = await appendEnvelope(
      trx,
      {
        conversationId,
        senderId: caller.userId,
        senderDeviceId: caller.sessionId,
        clientId: body.clientId,
        kind: body.kind,
        refTarget: body.refs?.target ?? null,
        refReplyTo: body.refs?.replyTo ?? null,
        encoding: body.content.encoding,
        data: body.content.data,
        attachmentIds: p.attachmentIds,
        disappearing: true,
      },
      stamp,
    );
    if (body.kind === 'edit' && body.refs?.target) {
      await trx.updateTable('messages').set({ edited_at: stamp }).where('id', '=', body.refs.target).where('conversation_id', '=', conversationId).execute();
    }
    if (p.attachmentIds.length) {
      await trx
        .insertInto('attachment_refs')
        .values(p.attachmentIds.map((attachment_id) => ({ attachment_id, conversation_id: conversationId, message_id: row.id })))
        .execute();
      await trx.updateTable('attachments').set({ referenced_at: stamp }).where('id', 'in', p.attachmentIds).where('referenced_at', 'is', null).execute();
    }
    return { row, accepted };
  }

  /**
   * One group-commit batch of sends (grouped by conversation, each conversation's in the
   * order they were sent): answer retries from what is stored, append the plain sends in
   * the batch form, the others one by one, then read who hears of each conversation.
   */
  async function commitBatch(trx: Kysely<DB>, stamp: string, _ms: number, plans: Plan[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = new Array(plans.length);
    // Plain sends only, on an engine that has the form: one statement does the lookup below,
    // the appends and the listeners (PostgreSQL: one round trip, no BEGIN/COMMIT). Nothing
    // after it may throw: it is committed once it returns.
    const whole = messageLog.appendPlain && plans.every(isPlain) ? await messageLog.appendPlain(trx, plans.map(toBatchEnvelope), stamp) : null;
    // Idempotency: a send already stored (a retry) is answered with the first ack, and so
    // is a second copy within this batch, once the first is in.
    const stored =
      whole?.stored ??
      (await messageLog.findByClientIds(
        trx,
        plans.map((p) => ({ deviceId: p.caller.sessionId, clientId: p.body.clientId })),
      ));
    const storedBy = new Map(stored.map((r) => [clientKey(r.sender_device_id, r.client_id), r]));
    const firstBy = new Map<string, number>();
    const twins: [number, number][] = [];
    const fresh: number[] = [];
    plans.forEach((p, i) => {
      const key = clientKey(p.caller.sessionId, p.body.clientId);
      const previous = storedBy.get(key);
      if (previous) outcomes[i] = replayed(previous, p);
      else if (firstBy.has(key)) twins.push([i, firstBy.get(key)!]);
      else {
        firstBy.set(key, i);
        fresh.push(i);
      }
    });

    // A conversation's sends take the batch form only if all of them are plain (seqs follow the order of sending).
    const byConversation = new Map<string, number[]>();
    for (const i of fresh) {
      const id = plans[i]!.membership.conversationId;
      const list = byConversation.get(id);
      if (list) list.push(i);
      else byConversation.set(id, [i]);
    }
    const rows = new Map<number, { row: MessageRow; accepted: boolean }>();
    if (whole) whole.appended.forEach((row, k) => rows.set(fresh[k]!, { row, accepted: false }));
    else {
      const plain: number[] = [];
      for (const list of byConversation.values()) {
        if (list.every((i) => isPlain(plans[i]!))) plain.push(...list);
        else for (const i of list) rows.set(i, await commitOne(trx, plans[i]!, stamp));
      }
      const appended = await appendEnvelopes(messageLog, trx, plain.map((i) => toBatchEnvelope(plans[i]!)), stamp);
      plain.forEach((i, k) => rows.set(i, { row: appended[k]!, accepted: false }));
    }

    const listeners = whole?.listeners ?? (await messageLog.listeners(trx, [...byConversation.keys()]));
    for (const i of fresh) {
      const { row, accepted } = rows.get(i)!;
      outcomes[i] = { ok: true, value: { row, created: true, accepted, recipientIds: listeners.get(row.conversation_id) ?? [] } satisfies Committed };
    }
    for (const [i, first] of twins) outcomes[i] = replayed(rows.get(first)!.row, plans[i]!);
    return outcomes;
  }

  function replayed(row: MessageRow, p: Plan): Outcome {
    if (row.conversation_id !== p.membership.conversationId) return { ok: false, err: conflictingClientId() };
    return { ok: true, value: { row, created: false, accepted: false, recipientIds: [] } satisfies Committed };
  }

  function toBatchEnvelope(p: Plan): BatchEnvelope {
    const { caller, body } = p;
    return {
      conversationId: p.membership.conversationId,
      senderId: caller.userId,
      senderDeviceId: caller.sessionId,
      clientId: body.clientId,
      kind: body.kind,
      refTarget: body.refs?.target ?? null,
      refReplyTo: body.refs?.replyTo ?? null,
      encoding: body.content.encoding,
      data: body.content.data,
    };
  }

  /**
   * Plan a send and hand it to the group commit. Resolves once it is queued there (so a
   * caller that queues the next send of the same conversation after this keeps their
   * order) with `result`, which settles once the batch committed.
   */
  async function enqueue(caller: Caller, conversationId: string, body: SendBody, origin?: string): Promise<{ result: Promise<SendResult> }> {
    const started = performance.now();
    checkBody(body);
    let p: Plan;
    try {
      p = await plan(caller, conversationId, body);
    } catch (err) {
      // A retry of a send that went through gets its ack, whatever changed since (a block,
      // a request cap, a rate limit). Looked up only here: the batch finds the other retries.
      const previous = await findByClientId(caller.sessionId, body.clientId);
      if (previous) return { result: Promise.resolve(replay(previous, conversationId)) };
      throw err;
    }
    const result = batcher.submit<Committed>(conversationId, p).then(
      (committed) => {
        const { row, created, accepted, recipientIds } = committed;
        if (!created) return { ack: toAck(row), created: false };
        ctx.metrics.messagesSent.add(1, row.kind);
        ctx.metrics.sendLatency.observe((performance.now() - started) / 1000);
        const event = { type: 'message' as const, conversationId, recipientIds, envelope: toEnvelope(row) };
        ctx.emit(origin === undefined ? event : { ...event, origin });
        if (accepted) ctx.emit({ type: 'conversation.changed', conversationId, recipientIds });
        // A message request reaches its recipient with its messages (at most a few): the
        // conversation comes with them, into their requests folder.
        else if (p.requester && p.peerId && recipientIds.includes(p.peerId)) ctx.emit({ type: 'conversation.changed', conversationId, recipientIds: [p.peerId] });
        return { ack: toAck(row), created: true };
      },
      async (err: unknown) => {
        // A concurrent send of the same clientId in another batch won the (device, clientId) race.
        if (ctx.database.isUniqueViolation(err)) {
          const winner = await findByClientId(caller.sessionId, body.clientId);
          if (winner) return replay(winner, conversationId);
        }
        throw err;
      },
    );
    return { result };
  }

  async function recipientsOf(conversationId: string): Promise<string[]> {
    return conversations.memberIds(conversationId);
  }

  return {
    /**
     * Send an envelope: validate → authorize → commit (group commit assigns the seq) → ack.
     * Idempotent on (device, clientId): a retry gets the first ack and `created: false`.
     * `origin` names the socket that sent it (it gets the ack, not the echo).
     */
    async send(caller: Caller, conversationId: string, body: SendBody, origin?: string): Promise<SendResult> {
      return (await enqueue(caller, conversationId, body, origin)).result;
    },

    /**
     * `send` in two steps, for a transport that pipelines: resolves once the send is
     * planned and queued for its commit (queue the next send of the same conversation only
     * then, and the two keep their order), with `result`, which settles once it committed.
     */
    enqueue,

    /**
     * `history`: a page of envelopes in seq order, never from before the member joined, as
     * the JSON text of GET …/messages; `historyBatch`: a page of each of many conversations,
     * as the JSON text of POST /v1/sync/messages.
     */
    ...createHistory(db, ctx.database.dialect, conversations),

    /**
     * Unsend for everyone (the sender; admins and the owner in groups): the payload, its
     * edits' payloads and its attachments are erased, and a `delete` envelope is appended.
     */
    async unsend(caller: Caller, conversationId: string, messageId: string): Promise<void> {
      const m = await conversations.membership(caller.userId, conversationId);
      if (!m) throw notFound('no such conversation');
      const target = await findInConversation(conversationId, messageId, m.joinedSeq);
      if (!target || target.kind === 'system' || target.kind === 'delete') throw notFound('no such message');
      const mayModerate = m.type === 'group' && m.state === 'active' && (m.role === 'owner' || m.role === 'admin');
      if (target.sender_id !== caller.userId && !mayModerate) throw new AppError('forbidden', 'you can only unsend your own messages');
      if (target.deleted_at) return;
      const done = await conversations.write(async (trx, stamp) => {
        const erased = await trx
          .updateTable('messages')
          .set({ encoding: null, data: null, attachment_ids: '[]', deleted_at: stamp })
          .where('conversation_id', '=', conversationId)
          .where((eb) => eb.or([eb('id', '=', messageId), eb.and([eb('ref_target', '=', messageId), eb('kind', '=', 'edit')])]))
          .where('deleted_at', 'is', null)
          .returning('id')
          .execute();
        if (!erased.some((e) => e.id === messageId)) return null;
        const refs = await trx.selectFrom('attachment_refs').select('attachment_id').where('message_id', 'in', erased.map((e) => e.id)).execute();
        await trx.deleteFrom('attachment_refs').where('message_id', 'in', erased.map((e) => e.id)).execute();
        // Files no other envelope (a forward, say) or avatar lists go with the message; their bytes after the commit.
        const discarded = await deps.attachments.deleteUnused(
          trx,
          refs.map((r) => r.attachment_id),
        );
        const row = await appendEnvelope(
          trx,
          { conversationId, senderId: caller.userId, senderDeviceId: caller.sessionId, clientId: `delete-${messageId}`, kind: 'delete', refTarget: messageId, encoding: null, data: null },
          stamp,
        );
        return { row, discarded };
      });
      if (!done) return;
      const { row, discarded } = done;
      await deps.attachments.discardBlobs(discarded);
      ctx.metrics.messagesSent.add(1, 'delete');
      ctx.emit({ type: 'message', conversationId, recipientIds: await recipientsOf(conversationId), envelope: toEnvelope(row) });
    },

    /**
     * Move a read or delivery marker forward (never back; a seq past the end is clamped to
     * lastSeq). Reading implies delivery. Returns the marker after the call. Read receipts
     * are reciprocal: if the reader or a viewer turned them off, that viewer is not told;
     * nor is anyone while the reader has not accepted the conversation.
     */
    async mark(caller: Caller, conversationId: string, kind: MarkerKind, seq: number): Promise<number> {
      const m = await conversations.membership(caller.userId, conversationId);
      if (!m) throw notFound('no such conversation');
      const to = Math.min(seq, m.lastSeq);
      const current = kind === 'read' ? m.readSeq : m.deliveredSeq;
      if (to <= current) return current;
      const moved = await conversations.write(async (trx, stamp) => {
        const set = kind === 'read' ? { read_seq: to, updated_at: stamp } : { delivered_seq: to, updated_at: stamp };
        const res = await trx
          .updateTable('members')
          .set(set)
          .where('conversation_id', '=', conversationId)
          .where('user_id', '=', caller.userId)
          .where(kind === 'read' ? 'read_seq' : 'delivered_seq', '<', to)
          .executeTakeFirst();
        if (kind === 'read') {
          await trx.updateTable('members').set({ delivered_seq: to }).where('conversation_id', '=', conversationId).where('user_id', '=', caller.userId).where('delivered_seq', '<', to).execute();
        }
        return Number(res.numUpdatedRows) > 0;
      });
      if (!moved) {
        const now = await conversations.membership(caller.userId, conversationId);
        return (kind === 'read' ? now?.readSeq : now?.deliveredSeq) ?? to;
      }
      // The reader's own devices always hear of it; others per the graph's visibility rules.
      let recipientIds = [caller.userId];
      if (m.state === 'active') {
        const others = (await recipientsOf(conversationId)).filter((u) => u !== caller.userId);
        const visible = kind === 'read' ? await graph.readMarkerVisibleTo(caller.userId, conversationId, others) : new Set(others);
        recipientIds = [caller.userId, ...others.filter((u) => visible.has(u))];
      }
      ctx.emit({ type: 'marker', conversationId, userId: caller.userId, kind, seq: to, recipientIds });
      return to;
    },

    /** Finish the sends in progress (shutdown). */
    close: () => batcher.close(),
  };
}

export type Messages = ReturnType<typeof createMessages>;
