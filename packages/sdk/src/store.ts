import type { OutboxEntry } from './outbox.ts';
import type { AttachmentInfo, Conversation, Envelope, MarkerKind, PlainContent } from './types.ts';

/** How my own message stands: from the outbox (`pending`, `failed`) or the others' markers. */
export type MessageStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

export interface ReactionView {
  emoji: string;
  count: number;
  userIds: string[];
  /** I reacted with this emoji. */
  mine: boolean;
}

/** One item of a conversation's timeline: a message (edits, reactions and deletes folded in) or a system event. */
export interface MessageView {
  /** Stable across the pending → sent transition: use it as the React key. */
  key: string;
  /** The server id, or null while pending. */
  id: string | null;
  clientId: string;
  conversationId: string;
  seq: number | null;
  senderId: string;
  kind: 'message' | 'system';
  /** The decoded content (for a text message, with the latest edit applied); null when unsent or unreadable. */
  content: PlainContent | null;
  /** The text to show (latest edit), or null. */
  text: string | null;
  replyTo: string | null;
  attachmentIds: string[];
  /** What the message says about its files (kind, name, size, thumbnail, voice duration). */
  attachments: AttachmentInfo[];
  /** Forwarded from another conversation. */
  forwarded: boolean;
  /** The (latest) text mentions me. */
  mentionsMe: boolean;
  createdAt: string;
  edited: boolean;
  editedAt: string | null;
  /** Earlier texts, oldest first, with when each was replaced. */
  history: { text: string; replacedAt: string }[];
  reactions: ReactionView[];
  /** Unsent for everyone (or expired): the content is gone. */
  deleted: boolean;
  /** The payload could not be decoded (unknown encoding, corrupt, or not decryptable). */
  unreadable: boolean;
  /** Only for my own messages. */
  status: MessageStatus | null;
  /** Why a failed send failed. */
  error: { code: string; message: string } | null;
}

/** One version of an edited message's text. */
export interface TextVersion {
  text: string;
  /** When this version was written: the message's creation, then each edit's. */
  at: string;
}

export interface Snapshot {
  /** Every conversation, most recently active first. */
  conversations: Conversation[];
  /** Accepted conversations I have not archived: pinned ones first, then most recently active first. */
  inbox: Conversation[];
  /** Message requests waiting for my answer. */
  requests: Conversation[];
  /** Conversations I archived, most recently active first. */
  archived: Conversation[];
  /** Users I blocked (their messages are hidden in groups). */
  blocked: ReadonlySet<string>;
}

interface Stored {
  envelope: Envelope;
  plain: PlainContent | null;
  unreadable: boolean;
}

interface ConversationData {
  /** Envelopes by seq. */
  bySeq: Map<number, Stored>;
  ids: Set<string>;
  /** userId → highest seq per marker kind. */
  markers: Map<string, { read: number; delivered: number }>;
  view: MessageView[] | null;
  /** Seqs below this are not loaded yet (`loadOlder` fetches them). */
  oldestSeq: number | null;
  hasOlder: boolean;
}

const textOf = (c: PlainContent | null): string | null => (c && (c.type === 'text' || c.type === 'edit') ? c.text : null);

const byActivity = (a: Conversation, b: Conversation) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : a.id < b.id ? 1 : -1);

/** Whether an envelope has passed its `expiresAt` (disappearing messages) at `nowMs`. */
const expiredAt = (e: Envelope, nowMs: number) => e.expiresAt !== undefined && Date.parse(e.expiresAt) <= nowMs;

/**
 * Whether a conversation is muted at `now`: a mute with an end time ends by itself.
 *
 * @example
 * if (!isMutedNow(conversation)) notify(message);
 */
export function isMutedNow(c: Pick<Conversation, 'muted' | 'mutedUntil'>, now: number = Date.now()): boolean {
  return c.muted && (c.mutedUntil === null || Date.parse(c.mutedUntil) > now);
}

/**
 * The client's local cache of conversations and messages, folded from envelopes. Reading is
 * synchronous and snapshots are immutable, so it plugs into React's `useSyncExternalStore`.
 *
 * @example
 * const conversations = useSyncExternalStore(client.store.subscribe, () => client.store.getSnapshot().conversations);
 * const messages = useSyncExternalStore(client.store.subscribe, () => client.store.getMessages(conversationId));
 */
export class Store {
  private readonly conversations = new Map<string, Conversation>();
  private readonly data = new Map<string, ConversationData>();
  private blockedIds = new Set<string>();
  /** Conversations holding envelopes with an `expiresAt` (the only ones `expire` walks). */
  private readonly expiring = new Set<string>();
  private pending: OutboxEntry[] = [];
  private readonly listeners = new Set<() => void>();
  private snapshot: Snapshot | null = null;
  private notifyScheduled = false;
  private me: string | null = null;

  /**
   * Be told of any change; returns the unsubscribe function.
   *
   * @example
   * const off = client.store.subscribe(() => render(client.store.getSnapshot()));
   */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /**
   * The current conversations and blocks; the same object until something changes.
   *
   * @example
   * const { conversations } = client.store.getSnapshot();
   */
  getSnapshot = (): Snapshot => {
    if (!this.snapshot) {
      const conversations = [...this.conversations.values()].sort(byActivity);
      const accepted = conversations.filter((c) => c.myState === 'active');
      this.snapshot = {
        conversations,
        inbox: [...accepted.filter((c) => c.pinned && !c.archived), ...accepted.filter((c) => !c.pinned && !c.archived)],
        requests: conversations.filter((c) => c.myState === 'request'),
        archived: accepted.filter((c) => c.archived),
        blocked: new Set(this.blockedIds),
      };
    }
    return this.snapshot;
  };

  /**
   * One conversation, or undefined.
   *
   * @example
   * const c = client.store.getConversation(id);
   */
  getConversation(conversationId: string): Conversation | undefined {
    return this.conversations.get(conversationId);
  }

  /**
   * A conversation's timeline in seq order, then my pending sends; the same array until that conversation changes.
   *
   * @example
   * for (const m of client.store.getMessages(id)) print(m.senderId, m.text, m.status);
   */
  getMessages(conversationId: string): MessageView[] {
    const d = this.dataOf(conversationId);
    d.view ??= this.fold(conversationId, d);
    return d.view;
  }

  /**
   * Whether older messages exist than those loaded (see `ParleyClient.loadOlder`).
   *
   * @example
   * if (client.store.hasOlder(id)) await client.loadOlder(id);
   */
  hasOlder(conversationId: string): boolean {
    return this.data.get(conversationId)?.hasOlder ?? false;
  }

  /** The lowest loaded seq, or null. */
  oldestSeq(conversationId: string): number | null {
    return this.data.get(conversationId)?.oldestSeq ?? null;
  }

  /**
   * Every version of a message's text, oldest first, each with when it was written; the
   * last is the current one. Empty for a message not loaded, unsent, or without text.
   *
   * @example
   * for (const v of client.store.editHistory(message.id)) print(v.at, v.text);
   */
  editHistory(messageId: string): TextVersion[] {
    const v = this.findMessage(messageId);
    if (!v || v.text === null) return [];
    const times = [v.createdAt, ...v.history.map((h) => h.replacedAt)];
    return [...v.history.map((h, i) => ({ text: h.text, at: times[i]! })), { text: v.text, at: times[v.history.length]! }];
  }

  /**
   * A message by its server id, in whichever loaded conversation holds it.
   *
   * @example
   * const m = client.store.findMessage(messageId);
   */
  findMessage(messageId: string): MessageView | undefined {
    for (const [conversationId, d] of this.data) {
      if (d.ids.has(messageId)) return this.getMessages(conversationId).find((m) => m.id === messageId);
    }
    return undefined;
  }

  /**
   * How many unread messages (loaded in the store) mention me in a conversation: past my read marker, from others, not unsent.
   *
   * @example
   * const badge = client.store.unreadMentions(conversationId); // show "@" when > 0
   */
  unreadMentions(conversationId: string): number {
    const c = this.conversations.get(conversationId);
    const d = this.data.get(conversationId);
    if (!c || !d || this.me === null || c.unreadCount === 0) return 0;
    // The unread ones are the last `unreadCount` messages from others (the server counts them
    // so), and none at or below my own read marker.
    const readUpTo = d.markers.get(this.me)?.read ?? 0;
    const fromOthers = this.getMessages(conversationId).filter((m) => m.kind === 'message' && m.senderId !== this.me && !m.deleted && m.seq !== null);
    return fromOthers.slice(Math.max(0, fromOthers.length - c.unreadCount)).filter((m) => m.mentionsMe && m.seq! > readUpTo).length;
  }

  /**
   * @internal Drop envelopes past their `expiresAt` and end mutes past their `mutedUntil`.
   * Returns the next time (ms) something will expire, or null.
   */
  expire(nowMs: number = Date.now()): number | null {
    let next: number | null = null;
    const soonest = (ms: number) => {
      if (next === null || ms < next) next = ms;
    };
    let changed = false;
    for (const conversationId of this.expiring) {
      const d = this.data.get(conversationId);
      if (!d) {
        this.expiring.delete(conversationId);
        continue;
      }
      let dropped = false;
      let left = false;
      for (const [seq, s] of d.bySeq) {
        if (s.envelope.expiresAt === undefined) continue;
        if (expiredAt(s.envelope, nowMs)) {
          d.bySeq.delete(seq);
          d.ids.delete(s.envelope.id);
          dropped = true;
        } else {
          left = true;
          soonest(Date.parse(s.envelope.expiresAt));
        }
      }
      if (!left) this.expiring.delete(conversationId);
      if (dropped) {
        d.view = null;
        changed = true;
      }
    }
    for (const c of this.conversations.values()) {
      if (!c.muted || c.mutedUntil === null) continue;
      const until = Date.parse(c.mutedUntil);
      if (until <= nowMs) {
        this.conversations.set(c.id, { ...c, muted: false, mutedUntil: null });
        changed = true;
      } else soonest(until);
    }
    if (changed) this.changed();
    return next;
  }

  /** An envelope by id, if loaded. */
  getEnvelope(conversationId: string, id: string): Envelope | undefined {
    const d = this.data.get(conversationId);
    if (!d?.ids.has(id)) return undefined;
    for (const s of d.bySeq.values()) if (s.envelope.id === id) return s.envelope;
    return undefined;
  }

  /** @internal */
  setMe(userId: string): void {
    if (this.me === userId) return;
    this.me = userId;
    this.invalidateAll();
  }

  /**
   * Put a conversation fetched over HTTP into the store (socket events and sync do it by themselves).
   *
   * @example
   * client.store.upsertConversation(await client.conversations.accept(id));
   */
  upsertConversation(c: Conversation): void {
    this.conversations.set(c.id, c);
    this.dataOf(c.id).view = null;
    this.changed();
  }

  /**
   * Drop a conversation from the store (after leaving or declining it).
   *
   * @example
   * await client.members.remove(id, me.id);
   * client.store.removeConversation(id);
   */
  removeConversation(conversationId: string): void {
    this.conversations.delete(conversationId);
    this.data.delete(conversationId);
    this.changed();
  }

  /** @internal */
  setBlocked(ids: Iterable<string>): void {
    this.blockedIds = new Set(ids);
    this.invalidateAll();
  }

  /** @internal */
  setBlockedOne(userId: string, blocked: boolean): void {
    if (blocked) this.blockedIds.add(userId);
    else this.blockedIds.delete(userId);
    this.invalidateAll();
  }

  /**
   * Whether I blocked this user.
   *
   * @example
   * if (client.store.isBlocked(user.id)) showUnblockButton();
   */
  isBlocked(userId: string): boolean {
    return this.blockedIds.has(userId);
  }

  /** @internal The outbox changed: pending and failed sends show at the end of their timeline. */
  setPending(entries: OutboxEntry[]): void {
    const touched = new Set([...this.pending, ...entries].map((e) => e.conversationId));
    this.pending = entries;
    for (const id of touched) this.dataOf(id).view = null;
    this.changed();
  }

  /**
   * @internal Add or refresh envelopes (already decoded). Returns those not seen before.
   * A known id is replaced: the server's copy may be newer (erased after an unsend).
   */
  apply(conversationId: string, items: Stored[]): Envelope[] {
    const d = this.dataOf(conversationId);
    const fresh: Envelope[] = [];
    const now = Date.now();
    for (const item of items) {
      // A disappearing message past its time is never shown, even if the server still had it.
      if (expiredAt(item.envelope, now)) {
        if (d.ids.delete(item.envelope.id)) d.bySeq.delete(item.envelope.seq);
        continue;
      }
      if (!d.ids.has(item.envelope.id)) fresh.push(item.envelope);
      if (item.envelope.expiresAt !== undefined) this.expiring.add(conversationId);
      d.ids.add(item.envelope.id);
      d.bySeq.set(item.envelope.seq, item);
      if (d.oldestSeq === null || item.envelope.seq < d.oldestSeq) d.oldestSeq = item.envelope.seq;
    }
    if (items.length === 0) return fresh;
    const c = this.conversations.get(conversationId);
    if (c) {
      let next = c;
      for (const e of fresh) {
        if (e.seq > next.lastSeq) {
          const fromOther = this.me !== null && e.senderId !== this.me && (e.kind === 'message');
          next = { ...next, lastSeq: e.seq, updatedAt: e.createdAt > next.updatedAt ? e.createdAt : next.updatedAt, unreadCount: next.unreadCount + (fromOther ? 1 : 0) };
          // The server's rule, applied here as it sends no conversation event for it: a message
          // from someone else brings an archived conversation back, unless it is muted.
          if (fromOther && next.archived && !isMutedNow(next, Date.parse(e.createdAt))) next = { ...next, archived: false };
        }
      }
      if (next !== c) this.conversations.set(conversationId, next);
    }
    d.view = null;
    this.changed();
    return fresh;
  }

  /** @internal */
  setHasOlder(conversationId: string, hasOlder: boolean): void {
    const d = this.dataOf(conversationId);
    if (d.hasOlder === hasOlder) return;
    d.hasOlder = hasOlder;
    this.changed();
  }

  /** @internal A read or delivery marker (monotonic). */
  applyMarker(conversationId: string, userId: string, kind: MarkerKind, seq: number): void {
    const d = this.dataOf(conversationId);
    const m = d.markers.get(userId) ?? { read: 0, delivered: 0 };
    const before = m[kind];
    m[kind] = Math.max(before, seq);
    // Read implies delivered.
    if (kind === 'read') m.delivered = Math.max(m.delivered, seq);
    d.markers.set(userId, m);
    if (userId === this.me && kind === 'read') {
      const c = this.conversations.get(conversationId);
      if (c && c.unreadCount > 0 && seq >= c.lastSeq) this.conversations.set(conversationId, { ...c, unreadCount: 0 });
    }
    if (m[kind] !== before) {
      d.view = null;
      this.changed();
    }
  }

  /** @internal Forget everything (sign-out). */
  clear(): void {
    this.conversations.clear();
    this.data.clear();
    this.expiring.clear();
    this.blockedIds.clear();
    this.pending = [];
    this.me = null;
    this.changed();
  }

  private dataOf(conversationId: string): ConversationData {
    let d = this.data.get(conversationId);
    if (!d) {
      d = { bySeq: new Map(), ids: new Set(), markers: new Map(), view: null, oldestSeq: null, hasOlder: false };
      this.data.set(conversationId, d);
    }
    return d;
  }

  private invalidateAll(): void {
    for (const d of this.data.values()) d.view = null;
    this.changed();
  }

  private changed(): void {
    this.snapshot = null;
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    // Batch a burst of envelopes (a synced page) into one render.
    queueMicrotask(() => {
      this.notifyScheduled = false;
      for (const l of [...this.listeners]) l();
    });
  }

  private mentions(list: readonly { userId: string }[] | undefined): boolean {
    return this.me !== null && (list ?? []).some((m) => m.userId === this.me);
  }

  private statusOf(conversationId: string, d: ConversationData, seq: number): MessageStatus {
    const c = this.conversations.get(conversationId);
    const others = (c?.members ?? []).filter((m) => m.userId !== this.me && m.state === 'active').map((m) => m.userId);
    if (others.length === 0) return 'sent';
    const all = (kind: MarkerKind) => others.every((u) => (d.markers.get(u)?.[kind] ?? 0) >= seq);
    if (all('read')) return 'read';
    if (all('delivered')) return 'delivered';
    return 'sent';
  }

  private pendingViews(conversationId: string): MessageView[] {
    return this.pending
      .filter((e) => e.conversationId === conversationId && e.kind === 'message')
      .map((e) => ({
        key: e.clientId,
        id: null,
        clientId: e.clientId,
        conversationId,
        seq: null,
        senderId: this.me ?? '',
        kind: 'message' as const,
        content: e.content,
        text: textOf(e.content),
        replyTo: e.refs?.replyTo ?? null,
        attachmentIds: e.attachmentIds ?? [],
        attachments: e.content.type === 'text' ? (e.content.attachments ?? []) : [],
        forwarded: e.content.type === 'text' && e.content.forwarded === true,
        mentionsMe: false,
        createdAt: e.createdAt,
        edited: false,
        editedAt: null,
        history: [],
        reactions: [],
        deleted: false,
        unreadable: false,
        status: e.state === 'failed' ? ('failed' as const) : ('pending' as const),
        error: e.error ?? null,
      }));
  }

  private fold(conversationId: string, d: ConversationData): MessageView[] {
    const isGroup = this.conversations.get(conversationId)?.type === 'group';
    const hidden = (senderId: string) => isGroup && this.blockedIds.has(senderId);
    const views = new Map<string, MessageView>();
    const reactions = new Map<string, Map<string, Set<string>>>();
    const order: MessageView[] = [];
    const seqs = [...d.bySeq.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      const { envelope: e, plain, unreadable } = d.bySeq.get(seq)!;
      switch (e.kind) {
        case 'message':
        case 'system': {
          const mine = e.senderId === this.me;
          const deleted = e.content === null || e.deletedAt !== undefined;
          const v: MessageView = {
            key: mine ? e.clientId : e.id,
            id: e.id,
            clientId: e.clientId,
            conversationId,
            seq: e.seq,
            senderId: e.senderId,
            kind: e.kind,
            content: deleted ? null : plain,
            text: deleted ? null : textOf(plain),
            replyTo: e.refs.replyTo ?? null,
            attachmentIds: e.attachmentIds,
            attachments: !deleted && plain?.type === 'text' ? (plain.attachments ?? []) : [],
            forwarded: !deleted && plain?.type === 'text' && plain.forwarded === true,
            mentionsMe: !deleted && plain?.type === 'text' && this.mentions(plain.mentions),
            createdAt: e.createdAt,
            edited: e.editedAt !== undefined,
            editedAt: e.editedAt ?? null,
            history: [],
            reactions: [],
            deleted,
            unreadable: !deleted && unreadable,
            status: mine && e.kind === 'message' ? this.statusOf(conversationId, d, e.seq) : null,
            error: null,
          };
          views.set(e.id, v);
          if (!(e.kind === 'message' && hidden(e.senderId))) order.push(v);
          break;
        }
        case 'edit': {
          const target = e.refs.target ? views.get(e.refs.target) : undefined;
          // Only the author edits a message; anything else is ignored, not shown.
          if (!target || target.deleted || target.senderId !== e.senderId || plain?.type !== 'edit') break;
          if (target.text !== null) target.history.push({ text: target.text, replacedAt: e.createdAt });
          target.text = plain.text;
          if (target.content?.type === 'text') target.content = { ...target.content, text: plain.text, mentions: plain.mentions };
          target.edited = true;
          target.editedAt = e.createdAt;
          target.mentionsMe = this.mentions(plain.mentions);
          break;
        }
        case 'reaction': {
          const targetId = e.refs.target;
          if (!targetId || plain?.type !== 'reaction' || hidden(e.senderId)) break;
          let byEmoji = reactions.get(targetId);
          if (!byEmoji) reactions.set(targetId, (byEmoji = new Map()));
          let who = byEmoji.get(plain.emoji);
          if (!who) byEmoji.set(plain.emoji, (who = new Set()));
          if (plain.on) who.add(e.senderId);
          else who.delete(e.senderId);
          break;
        }
        case 'delete': {
          const target = e.refs.target ? views.get(e.refs.target) : undefined;
          if (!target) break;
          target.deleted = true;
          target.content = null;
          target.text = null;
          target.history = [];
          target.attachments = [];
          target.mentionsMe = false;
          target.unreadable = false;
          break;
        }
        default: {
          const unknownKind: never = e.kind;
          void unknownKind;
        }
      }
    }
    for (const [targetId, byEmoji] of reactions) {
      const v = views.get(targetId);
      if (!v || v.deleted) continue;
      v.reactions = [...byEmoji]
        .filter(([, who]) => who.size > 0)
        .map(([emoji, who]) => ({ emoji, count: who.size, userIds: [...who], mine: this.me !== null && who.has(this.me) }));
    }
    // An acked send whose envelope is already here must not show twice.
    const pending = this.pendingViews(conversationId).filter((p) => !order.some((v) => v.clientId === p.clientId && v.senderId === this.me));
    return [...order, ...pending];
  }
}
