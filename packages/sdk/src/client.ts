import { ParleyApi } from './api.ts';
import type { BackoffOptions } from './backoff.ts';
import { plainCodec, type ContentCodec } from './codec.ts';
import { Emitter } from './emitter.ts';
import { ApiError, apiErrorFrom } from './errors.ts';
import type { BinaryBody, FetchLike } from './http.ts';
import { LIMITS } from '@parley/protocol';
import { Outbox, type OutboxEntry, type OutboxPersistence } from './outbox.ts';
import { Socket, type ConnectionState, type WebSocketConstructor } from './socket.ts';
import { Store, type MessageView } from './store.ts';
import type { Ack, AttachmentInfo, AttachmentKind, AuthResult, Content, Conversation, Envelope, HistoryBatchItem, HistoryBatchPage, MarkerKind, PlainContent, Refs, ServerFrame } from './types.ts';

export interface ParleyClientOptions {
  /** The server's base URL, e.g. `https://chat.example.com`. */
  baseUrl: string;
  /** A session token kept from an earlier sign-in. */
  token?: string | null;
  /** The WebSocket class: the browser's global by default; in Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  fetch?: FetchLike;
  /** How content is turned into payloads (default: `plainCodec`). */
  codec?: ContentCodec;
  /** Where unsent messages are kept (default: memory). */
  outbox?: OutboxPersistence;
  /** Attempts before a send fails (default 8); failures to reach the server while offline do not count. */
  maxSendAttempts?: number;
  reconnect?: BackoffOptions;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  /** How long a send over the socket waits for its ack (default 15 s). */
  requestTimeoutMs?: number;
  /** HTTP request timeout (default 30 s). */
  httpTimeoutMs?: number;
  /** How many recent messages to load per conversation on first sync and per `loadOlder` (default 50). */
  pageSize?: number;
  /** Tell senders when messages reached this device (default true). */
  sendDeliveryMarkers?: boolean;
  /** Makes client ids (default `crypto.randomUUID`). */
  newClientId?: () => string;
}

/**
 * A thumbnail for an image or video, made by the caller: in a browser with a canvas or
 * `createImageBitmap` (the web app does it), in Node by whatever the caller likes. It is
 * uploaded as an attachment of its own and listed with the file.
 */
export interface ThumbnailInput {
  data: BinaryBody;
  /** Default: the Blob's type, else image/jpeg. */
  contentType?: string;
  width?: number;
  height?: number;
}

/** How `sendFile` describes a file (all optional: a Blob/File carries its own type and size). */
export interface SendFileOptions {
  /** Default: `image` for image/*, `video` for video/*, `voice` never (use `sendVoice`), else `file`. */
  kind?: Exclude<AttachmentKind, 'voice'>;
  contentType?: string;
  /** Offered to downloaders; default: a File's name. */
  filename?: string;
  /** Text shown with the file (may be empty). */
  caption?: string;
  /** Bytes (a Blob or a Uint8Array), or the bytes with their type and size. */
  thumbnail?: BinaryBody | ThumbnailInput;
  width?: number;
  height?: number;
  durationMs?: number;
  replyTo?: string;
}

export interface SendVoiceOptions {
  /** How long the recording lasts. */
  durationMs: number;
  /** An `audio/*` type; default: the Blob's type, else audio/ogg. */
  contentType?: string;
  replyTo?: string;
}

const sizeOf = (b: BinaryBody): number => (b instanceof ArrayBuffer ? b.byteLength : b instanceof Uint8Array ? b.byteLength : b.size);
const typeOf = (b: BinaryBody): string | undefined => ('type' in b && typeof b.type === 'string' && b.type ? b.type : undefined);
const nameOf = (b: BinaryBody): string | undefined => ('name' in b && typeof (b as { name?: unknown }).name === 'string' ? (b as { name: string }).name : undefined);

export interface MarkerEvent {
  conversationId: string;
  userId: string;
  kind: MarkerKind;
  seq: number;
}

export interface TypingEvent {
  conversationId: string;
  userId: string;
  active: boolean;
}

export interface PresenceEvent {
  userId: string;
  status: 'online' | 'offline';
  lastSeenAt: string | null;
}

/** What `ParleyClient.on` can listen to. */
export type ClientEvents = {
  /** The socket's state: `connecting`, `online` (authenticated), `offline`. */
  connection: [ConnectionState];
  /** An envelope new to this client (live, or caught up after a reconnect), in seq order per conversation; `content` is the decoded payload, null when erased or unreadable. */
  message: [envelope: Envelope, content: PlainContent | null];
  /** A conversation was created, changed, or I joined it. */
  conversation: [Conversation];
  'conversation.removed': [conversationId: string];
  marker: [MarkerEvent];
  typing: [TypingEvent];
  presence: [PresenceEvent];
  /** This session was signed out remotely (or its token stopped working): the client went offline. */
  'session.revoked': [];
  /** An outbox entry changed (pending, sent, failed). */
  outbox: [OutboxEntry];
  /** A catch-up after a (re)connect finished: the store holds everything the server had. */
  synced: [];
  /** A background step failed (a sync that will be retried, say). */
  error: [ApiError];
};

class Events extends Emitter<ClientEvents> {
  fire<K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]): void {
    this.emit(event, ...args);
  }
}

interface Timeline {
  /** Highest seq applied with nothing missing below it (down to what was loaded); undefined before the first load. */
  known: number | undefined;
  /** Envelopes that arrived ahead of a gap, waiting for it to be filled. */
  buffer: Map<number, Envelope>;
  /** Work on this conversation runs one step at a time, in order. */
  chain: Promise<void>;
  deliveredSent: number;
}

const HISTORY_PAGE = 200;
/**
 * First pages are asked for in up to this many requests at once (a browser's connections per
 * host), so the server reads one batch while the client takes in another, each of at least
 * BATCH_MIN conversations (fewer, bigger requests cost less) and at most the server's 100.
 */
const BATCHES_IN_FLIGHT = 6;
const BATCH_MIN = 10;
export const batchSize = (conversations: number): number =>
  Math.min(LIMITS.historyBatchMax, Math.max(BATCH_MIN, Math.ceil(conversations / BATCHES_IN_FLIGHT)));

/** A conversation's first catch-up page, fetched ahead in a batch, and how it was asked. */
interface FirstPage {
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
  envelopes: Envelope[];
}

/**
 * The Parley client: every HTTP endpoint (from `ParleyApi`), a self-healing socket, sync and
 * gap filling, an optimistic outbox, and a local store for UIs.
 *
 * @example
 * import { WebSocket } from 'ws'; // Node 20; browsers use their own
 * const client = new ParleyClient({ baseUrl: 'http://localhost:8080', WebSocket });
 * await client.accounts.signIn({ username: 'ada', password: 'correct horse battery' });
 * client.on('message', (envelope, content) => console.log(envelope.senderId, content));
 * await client.connect();
 * await client.sendText(conversationId, 'hello');
 */
export class ParleyClient extends ParleyApi {
  /** The local cache of conversations and messages (see `Store`). */
  readonly store = new Store();
  readonly codec: ContentCodec;
  private readonly events = new Events();
  private readonly outboxQueue: Outbox;
  private readonly options: ParleyClientOptions;
  private socket: Socket | null = null;
  private readonly timelines = new Map<string, Timeline>();
  private readonly awaitingEcho = new Map<string, OutboxEntry>();
  /** Acks of recent sends, so `waitForAck` answers after the fact too (bounded). */
  private readonly recentAcks = new Map<string, Ack>();
  /**
   * What I sent, by clientId: encoded once (an encrypting codec must not encrypt a retry
   * anew), and readable later without decoding (an MLS sender cannot decrypt its own
   * messages). Bounded.
   */
  private readonly own = new Map<string, { plain: PlainContent; content?: Content }>();
  private identity: { userId: string; sessionId: string | null } | null = null;
  private cursor: string | null = null;
  private initialSyncDone = false;
  private started = false;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private syncRetryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Wakes up when the next disappearing message expires or a mute ends. */
  private expiryTimer: { at: number; timer: ReturnType<typeof setTimeout> } | null = null;

  constructor(options: ParleyClientOptions) {
    super({ baseUrl: options.baseUrl, fetch: options.fetch, token: options.token, timeoutMs: options.httpTimeoutMs });
    this.options = options;
    this.codec = options.codec ?? plainCodec;
    this.outboxQueue = new Outbox({
      persistence: options.outbox,
      maxAttempts: options.maxSendAttempts,
      transmit: (entry) => this.transmit(entry),
      isOnline: () => this.socket?.state === 'online',
    });
    this.outboxQueue.on('change', (entry) => {
      this.refreshPending();
      this.events.fire('outbox', entry);
    });
    this.outboxQueue.on('sent', (entry) => this.onSent(entry));
    this.store.subscribe(() => this.scheduleExpiry());
  }

  /**
   * Listen to a client event; returns a function that stops listening.
   *
   * @example
   * const off = client.on('message', (envelope, content) => { if (content?.type === 'text') notify(content.text); });
   * client.on('connection', (state) => setBanner(state !== 'online'));
   */
  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /**
   * Listen to the next occurrence of an event.
   *
   * @example
   * client.once('synced', () => hideSpinner());
   */
  once<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.events.once(event, listener);
  }

  /**
   * Stop listening.
   *
   * @example
   * client.off('message', onMessage);
   */
  off<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /** The socket's state. */
  get connectionState(): ConnectionState {
    return this.socket?.state ?? 'offline';
  }

  /** My user id, once known (after sign-in or the socket's `ready`). */
  get userId(): string | null {
    return this.identity?.userId ?? null;
  }

  /** This device's session id, once the socket said `ready`. */
  get sessionId(): string | null {
    return this.identity?.sessionId ?? null;
  }

  /** The outbox: unsent entries, and `retry`/`discard` of failed ones. */
  get outbox(): Pick<Outbox, 'list' | 'get' | 'retry' | 'discard'> {
    return this.outboxQueue;
  }

  /**
   * Open the socket and keep it open (reconnecting by itself) until `disconnect()`.
   * Resolves once the first sync is done; rejects with `ApiError('unauthorized')` when the
   * token is refused.
   *
   * @example
   * await client.connect();
   * render(client.store.getSnapshot().conversations);
   */
  connect(): Promise<void> {
    if (!this.token) return Promise.reject(new ApiError('unauthorized', 'sign in first'));
    const WS = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) return Promise.reject(new Error('no WebSocket available: pass options.WebSocket (in Node 20, `WebSocket` from the ws package)'));
    this.started = true;
    if (!this.socket) {
      this.socket = new Socket({
        url: `${this.baseUrl.replace(/^http/, 'ws')}/v1/ws`,
        WebSocket: WS,
        getToken: () => this.token,
        reconnect: this.options.reconnect,
        pingIntervalMs: this.options.pingIntervalMs,
        pongTimeoutMs: this.options.pongTimeoutMs,
        requestTimeoutMs: this.options.requestTimeoutMs,
      });
      this.socket.on('state', (state) => this.events.fire('connection', state));
      this.socket.on('ready', (frame) => this.onReady(frame.userId, frame.sessionId));
      this.socket.on('frame', (frame) => this.onFrame(frame));
      // Revoked while connected, or refused on a reconnect (revoked while away): signed out either way.
      this.socket.on('signedOut', () => this.events.fire('session.revoked'));
    }
    const socket = this.socket;
    if (socket.state === 'online' && this.initialSyncDone && !this.syncing) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => {
      const offs: Array<() => void> = [];
      const settle = (fn: () => void) => {
        for (const off of offs) off();
        fn();
      };
      offs.push(this.events.once('synced', () => settle(resolve)));
      offs.push(socket.on('signedOut', (why) => settle(() => reject(new ApiError('unauthorized', why === 'revoked' ? 'this session was signed out' : 'the token was refused')))));
    });
    this.outboxQueue.start();
    void this.outboxQueue.load();
    socket.start();
    return done;
  }

  /**
   * Close the socket and stop retrying sends until `connect()` again. The store is kept.
   *
   * @example
   * window.addEventListener('beforeunload', () => client.disconnect());
   */
  disconnect(): void {
    this.started = false;
    this.socket?.stop();
    this.outboxQueue.stop();
    if (this.syncRetryTimer) clearTimeout(this.syncRetryTimer);
    this.syncRetryTimer = null;
  }

  /**
   * Reconnect at once instead of waiting for the backoff (call it when the device comes back online).
   *
   * @example
   * window.addEventListener('online', () => client.reconnectNow());
   */
  reconnectNow(): void {
    this.socket?.reconnectNow();
  }

  /**
   * Sign this device out: revoke the session, close the socket and forget the local data.
   *
   * @example
   * await client.signOut();
   */
  async signOut(): Promise<void> {
    const sessions = await this.sessions.list().catch(() => []);
    const current = sessions.find((s) => s.current);
    if (current) await this.sessions.revoke(current.id).catch(() => undefined);
    this.disconnect();
    this.setToken(null);
    this.identity = null;
    this.cursor = null;
    this.initialSyncDone = false;
    this.timelines.clear();
    this.store.clear();
    this.clearExpiryTimer();
  }

  /**
   * Send content optimistically: it shows at once as `pending` in the store and is retried
   * with the same `clientId` until the server acks it (over the socket when online, HTTP
   * otherwise). Resolves with the outbox entry (not the ack; see `waitForAck`).
   *
   * @example
   * const entry = await client.send(conversationId, { type: 'text', text: 'hi' });
   */
  async send(conversationId: string, content: PlainContent, options: { kind?: 'message' | 'edit' | 'reaction'; refs?: Refs; attachmentIds?: string[]; clientId?: string } = {}): Promise<OutboxEntry> {
    const kind = options.kind ?? (content.type === 'edit' ? 'edit' : content.type === 'reaction' ? 'reaction' : 'message');
    return this.outboxQueue.add({
      clientId: options.clientId ?? this.newClientId(),
      conversationId,
      kind,
      content,
      ...(options.refs ? { refs: options.refs } : {}),
      ...(options.attachmentIds ? { attachmentIds: options.attachmentIds } : {}),
    });
  }

  /**
   * Send a text message, optionally as a reply (a preview of the replied-to message goes along).
   *
   * @example
   * await client.sendText(conversationId, 'see you at 8', { replyTo: message.id });
   */
  async sendText(conversationId: string, text: string, options: { replyTo?: string; mentions?: { userId: string; offset: number; length: number }[] } = {}): Promise<OutboxEntry> {
    const content: PlainContent = { type: 'text', text, ...(options.mentions ? { mentions: options.mentions } : {}) };
    if (options.replyTo) {
      const target = this.store.getMessages(conversationId).find((m) => m.id === options.replyTo);
      if (target) content.replyPreview = { messageId: options.replyTo, senderId: target.senderId, text: (target.text ?? '').slice(0, 200) };
    }
    return this.send(conversationId, content, options.replyTo ? { refs: { replyTo: options.replyTo } } : {});
  }

  /**
   * Edit one of my messages.
   *
   * @example
   * await client.edit(conversationId, message.id, 'fixed typo');
   */
  async edit(conversationId: string, messageId: string, text: string): Promise<OutboxEntry> {
    return this.send(conversationId, { type: 'edit', text }, { refs: { target: messageId } });
  }

  /**
   * Toggle my reaction with an emoji on a message (on if I had not reacted with it, off otherwise).
   *
   * @example
   * await client.react(conversationId, message.id, '👍');
   */
  async react(conversationId: string, messageId: string, emoji: string, on?: boolean): Promise<OutboxEntry> {
    const current = this.store.getMessages(conversationId).find((m) => m.id === messageId);
    const mine = current?.reactions.find((r) => r.emoji === emoji)?.mine ?? false;
    return this.send(conversationId, { type: 'reaction', emoji, on: on ?? !mine }, { refs: { target: messageId } });
  }

  /**
   * Forward messages to other conversations (at most `LIMITS.forwardMax`, 5, at once; more
   * throws `ApiError('limit_reached')` before anything is sent). Each copy is marked
   * `forwarded`, keeps its text and files (the files are listed again, not uploaded again),
   * and drops what belonged to the original conversation (reply, mentions). Unsent,
   * unreadable and system messages cannot be forwarded (`invalid_request`).
   *
   * @example
   * await client.forward(message, [aliceDm.id, climbingGroup.id]);
   * await client.forward([m1.id, m2.id], [groupId]);
   */
  async forward(messages: string | MessageView | ReadonlyArray<string | MessageView>, conversationIds: readonly string[]): Promise<OutboxEntry[]> {
    const targets = [...new Set(conversationIds)];
    if (targets.length === 0) throw new ApiError('invalid_request', 'name at least one conversation to forward to', { data: { field: 'conversationIds' } });
    if (targets.length > LIMITS.forwardMax) {
      throw new ApiError('limit_reached', `forward to at most ${LIMITS.forwardMax} conversations at once`, { data: { field: 'conversationIds', limit: LIMITS.forwardMax } });
    }
    const list = (Array.isArray(messages) ? messages : [messages]) as Array<string | MessageView>;
    const sources = list.map((m) => {
      const view = typeof m === 'string' ? this.store.findMessage(m) : m;
      if (!view) throw new ApiError('not_found', `message ${String(m)} is not loaded`, { data: { field: 'messages' } });
      if (view.kind !== 'message' || view.deleted || view.content?.type !== 'text') {
        throw new ApiError('invalid_request', 'only messages with content can be forwarded', { data: { field: 'messages' } });
      }
      return view;
    });
    const out: OutboxEntry[] = [];
    for (const conversationId of targets) {
      for (const v of sources) {
        const content: PlainContent = { type: 'text', text: v.text ?? '', forwarded: true, ...(v.attachments.length ? { attachments: v.attachments } : {}) };
        out.push(await this.send(conversationId, content, v.attachmentIds.length ? { attachmentIds: v.attachmentIds } : {}));
      }
    }
    return out;
  }

  /**
   * Send a file or an image: uploads it (and its thumbnail, if given), then sends a message
   * that lists both and describes them. In a browser make the thumbnail with a canvas or
   * `createImageBitmap`; in Node pass whatever bytes you have.
   *
   * @example
   * const file = input.files[0];
   * await client.sendFile(conversationId, file, { caption: 'the view', thumbnail: { data: smallJpeg, width: 320, height: 240 }, width: 4032, height: 3024 });
   */
  async sendFile(conversationId: string, file: BinaryBody, options: SendFileOptions = {}): Promise<OutboxEntry> {
    const contentType = options.contentType ?? typeOf(file) ?? 'application/octet-stream';
    const kind: AttachmentKind = options.kind ?? (contentType.startsWith('image/') ? 'image' : contentType.startsWith('video/') ? 'video' : 'file');
    return this.sendAttachment(conversationId, file, kind, contentType, options.caption ?? '', options);
  }

  /**
   * Send a voice note: an `audio/*` recording with its duration.
   *
   * @example
   * const blob = new Blob(chunks, { type: 'audio/webm' }); // from a MediaRecorder
   * await client.sendVoice(conversationId, blob, { durationMs: 5400 });
   */
  async sendVoice(conversationId: string, audio: BinaryBody, options: SendVoiceOptions): Promise<OutboxEntry> {
    const contentType = options.contentType ?? typeOf(audio) ?? 'audio/ogg';
    if (!contentType.startsWith('audio/')) throw new ApiError('invalid_request', 'a voice note is audio/*', { data: { field: 'contentType' } });
    if (!Number.isInteger(options.durationMs) || options.durationMs < 0) throw new ApiError('invalid_request', 'durationMs: a whole number of milliseconds', { data: { field: 'durationMs' } });
    return this.sendAttachment(conversationId, audio, 'voice', contentType, '', { durationMs: options.durationMs, ...(options.replyTo ? { replyTo: options.replyTo } : {}) });
  }

  private async sendAttachment(conversationId: string, data: BinaryBody, kind: AttachmentKind, contentType: string, caption: string, options: SendFileOptions): Promise<OutboxEntry> {
    const filename = options.filename ?? nameOf(data);
    const uploaded = await this.attachments.upload(data, { contentType, ...(filename ? { filename } : {}) });
    const info: AttachmentInfo = { id: uploaded.id, kind, contentType, size: sizeOf(data) };
    if (filename) info.name = filename;
    if (options.width) info.width = options.width;
    if (options.height) info.height = options.height;
    if (options.durationMs !== undefined) info.durationMs = options.durationMs;
    const ids = [uploaded.id];
    if (options.thumbnail) {
      const t: ThumbnailInput = 'data' in options.thumbnail ? options.thumbnail : { data: options.thumbnail };
      const thumbType = t.contentType ?? typeOf(t.data) ?? 'image/jpeg';
      const thumb = await this.attachments.upload(t.data, { contentType: thumbType });
      info.thumbnail = { id: thumb.id, contentType: thumbType, ...(t.width ? { width: t.width } : {}), ...(t.height ? { height: t.height } : {}) };
      ids.push(thumb.id);
    }
    const content: PlainContent = { type: 'text', text: caption, attachments: [info] };
    if (options.replyTo) {
      const target = this.store.findMessage(options.replyTo);
      if (target) content.replyPreview = { messageId: options.replyTo, senderId: target.senderId, text: (target.text ?? '').slice(0, 200) };
    }
    return this.send(conversationId, content, { attachmentIds: ids, ...(options.replyTo ? { refs: { replyTo: options.replyTo } } : {}) });
  }

  /**
   * Unsend a message for everyone.
   *
   * @example
   * await client.unsend(conversationId, message.id);
   */
  async unsend(conversationId: string, messageId: string): Promise<void> {
    await this.messages.delete(conversationId, messageId);
  }

  /**
   * Try a failed send again, with its original `clientId` (the server never stores it twice).
   *
   * @example
   * if (message.status === 'failed') await client.retry(message.clientId);
   */
  retry(clientId: string): Promise<void> {
    return this.outboxQueue.retry(clientId);
  }

  /**
   * Wait until a send is acked; rejects with its `ApiError` once it failed.
   *
   * @example
   * const entry = await client.sendText(id, 'hi');
   * const ack = await client.waitForAck(entry.clientId);
   */
  waitForAck(clientId: string): Promise<Ack> {
    return new Promise((resolve, reject) => {
      const check = (e: OutboxEntry | undefined): boolean => {
        if (e?.state === 'sent' && e.ack) {
          resolve(e.ack);
          return true;
        }
        if (e?.state === 'failed') {
          reject(new ApiError((e.error?.code as ApiError['code']) ?? 'internal', e.error?.message ?? 'send failed'));
          return true;
        }
        return false;
      };
      const acked = this.recentAcks.get(clientId);
      if (acked) {
        resolve(acked);
        return;
      }
      const entry = this.outboxQueue.get(clientId);
      if (!entry) {
        reject(new ApiError('not_found', `no send with clientId ${clientId}`));
        return;
      }
      if (check(entry)) return;
      const off = this.events.on('outbox', (e) => {
        if (e.clientId === clientId && check(e)) off();
      });
    });
  }

  /**
   * Tell the others I am typing (or stopped). Sent only when online; typing is ephemeral.
   *
   * @example
   * input.addEventListener('input', () => client.typing(conversationId, true));
   */
  typing(conversationId: string, active: boolean): boolean {
    return this.socket?.send({ type: 'typing', conversationId, active }) ?? false;
  }

  /**
   * Mark a conversation read up to `seq` (default: its latest message).
   *
   * @example
   * await client.markRead(conversationId);
   */
  async markRead(conversationId: string, seq?: number): Promise<void> {
    const upTo = seq ?? this.store.getConversation(conversationId)?.lastSeq ?? 0;
    if (this.identity) this.store.applyMarker(conversationId, this.identity.userId, 'read', upTo);
    if (!this.socket?.send({ type: 'read', conversationId, seq: upTo })) await this.markers.read(conversationId, upTo);
  }

  /**
   * Open (or reuse) the direct conversation with someone and put it in the store.
   *
   * @example
   * const dm = await client.openDirect(bob.id);
   * await client.sendText(dm.id, 'hi Bob');
   */
  async openDirect(userId: string): Promise<Conversation> {
    const c = await this.conversations.create({ type: 'direct', userId });
    const { notAdded: _notAdded, ...conversation } = c as Conversation & { notAdded?: unknown };
    this.store.upsertConversation(conversation);
    return conversation;
  }

  /**
   * Load the page of messages before the oldest one in the store.
   *
   * @example
   * if (client.store.hasOlder(id)) await client.loadOlder(id);
   */
  async loadOlder(conversationId: string, limit = this.pageSize): Promise<MessageView[]> {
    const oldest = this.store.oldestSeq(conversationId);
    if (oldest === null || oldest <= 1) {
      this.store.setHasOlder(conversationId, false);
      return this.store.getMessages(conversationId);
    }
    const page = await this.messages.history(conversationId, { before: oldest, limit });
    await this.applyEnvelopes(conversationId, page, false);
    this.store.setHasOlder(conversationId, page.length === limit && (page[0]?.seq ?? 0) > 1);
    return this.store.getMessages(conversationId);
  }

  protected override onBlocksChanged(userId: string, blocked: boolean): void {
    this.store.setBlockedOne(userId, blocked);
  }

  protected override onBlocksReset(): void {
    void this.blocks
      .all()
      .then((blocks) => this.store.setBlocked(blocks.map((b) => b.user.id)))
      .catch((err) => this.events.fire('error', err instanceof ApiError ? err : new ApiError('network_error', String(err))));
  }

  protected override onSignedIn(result: AuthResult): void {
    if (this.identity?.userId !== result.user.id) {
      this.store.clear();
      this.timelines.clear();
      this.cursor = null;
      this.initialSyncDone = false;
    }
    this.identity = { userId: result.user.id, sessionId: result.session.id };
    this.store.setMe(result.user.id);
  }

  /** Drop what expired now and wake up again when the next thing expires (a disappearing message, a mute). */
  private scheduleExpiry(): void {
    const next = this.store.expire();
    if (next === null) {
      this.clearExpiryTimer();
      return;
    }
    if (this.expiryTimer && this.expiryTimer.at <= next) return;
    this.clearExpiryTimer();
    // Timers take at most 2^31-1 ms; a later expiry just wakes up once more on the way.
    const timer = setTimeout(
      () => {
        this.expiryTimer = null;
        this.scheduleExpiry();
      },
      Math.min(Math.max(0, next - Date.now()) + 5, 2 ** 31 - 1),
    );
    // In Node, a pending expiry must not keep the process alive.
    (timer as { unref?: () => void }).unref?.();
    this.expiryTimer = { at: next, timer };
  }

  private clearExpiryTimer(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer.timer);
    this.expiryTimer = null;
  }

  private get pageSize(): number {
    return this.options.pageSize ?? 50;
  }

  private newClientId(): string {
    return this.options.newClientId?.() ?? globalThis.crypto.randomUUID();
  }

  private refreshPending(): void {
    this.store.setPending([...this.outboxQueue.list(), ...this.awaitingEcho.values()]);
  }

  private remember(clientId: string, value: { plain: PlainContent; content?: Content }): void {
    this.own.delete(clientId);
    this.own.set(clientId, value);
    if (this.own.size > 5000) this.own.delete(this.own.keys().next().value!);
  }

  private async transmit(entry: OutboxEntry): Promise<Ack> {
    let content = this.own.get(entry.clientId)?.content;
    if (!content) {
      content = await this.codec.encode(entry.conversationId, entry.content);
      this.remember(entry.clientId, { plain: entry.content, content });
    }
    const body = {
      clientId: entry.clientId,
      kind: entry.kind,
      content,
      ...(entry.refs ? { refs: entry.refs } : {}),
      ...(entry.attachmentIds ? { attachmentIds: entry.attachmentIds } : {}),
    };
    if (this.socket?.state === 'online') {
      try {
        return await this.socket.sendEnvelope(entry.conversationId, body);
      } catch (err) {
        // The socket dropped under the send: the HTTP retry carries the same clientId, so at most one copy is stored.
        if (!(err instanceof ApiError) || err.code !== 'network_error') throw err;
      }
    }
    return this.messages.post(entry.conversationId, body);
  }

  private onSent(entry: OutboxEntry & { ack: Ack }): void {
    this.recentAcks.set(entry.clientId, entry.ack);
    if (this.recentAcks.size > 1000) this.recentAcks.delete(this.recentAcks.keys().next().value!);
    // The sending socket gets an ack, not the envelope: build it here so the store has it at once.
    if (!this.started || !this.identity) {
      this.refreshPending();
      return;
    }
    this.awaitingEcho.set(entry.clientId, entry);
    this.refreshPending();
    const envelope: Envelope = {
      id: entry.ack.id,
      conversationId: entry.conversationId,
      seq: entry.ack.seq,
      senderId: this.identity.userId,
      senderDeviceId: this.identity.sessionId ?? '',
      clientId: entry.clientId,
      kind: entry.kind,
      refs: entry.refs ?? {},
      content: this.own.get(entry.clientId)?.content ?? null,
      attachmentIds: entry.attachmentIds ?? [],
      createdAt: entry.ack.createdAt,
    };
    this.remember(entry.clientId, { plain: entry.content, ...(envelope.content ? { content: envelope.content } : {}) });
    this.enqueue(entry.conversationId, () => this.ingest(envelope));
  }

  private onReady(userId: string, sessionId: string): void {
    if (this.identity && this.identity.userId !== userId) {
      this.store.clear();
      this.timelines.clear();
      this.cursor = null;
      this.initialSyncDone = false;
    }
    this.identity = { userId, sessionId };
    this.store.setMe(userId);
    this.outboxQueue.wake();
    void this.resync();
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message':
        this.enqueue(frame.envelope.conversationId, () => this.ingest(frame.envelope));
        return;
      case 'conversation': {
        const c = frame.conversation;
        this.store.upsertConversation(c);
        this.events.fire('conversation', c);
        const t = this.timelines.get(c.id);
        if (this.initialSyncDone && c.lastSeq > (t?.known ?? 0)) this.catchUp(c.id, c.lastSeq);
        return;
      }
      case 'conversation.removed':
        this.timelines.delete(frame.conversationId);
        this.store.removeConversation(frame.conversationId);
        this.events.fire('conversation.removed', frame.conversationId);
        return;
      case 'marker':
        this.store.applyMarker(frame.conversationId, frame.userId, frame.kind, frame.seq);
        this.events.fire('marker', { conversationId: frame.conversationId, userId: frame.userId, kind: frame.kind, seq: frame.seq });
        return;
      case 'typing':
        this.events.fire('typing', { conversationId: frame.conversationId, userId: frame.userId, active: frame.active });
        return;
      case 'presence':
        this.events.fire('presence', { userId: frame.userId, status: frame.status, lastSeenAt: frame.lastSeenAt });
        return;
      case 'error':
        this.events.fire('error', apiErrorFrom(frame.error));
        return;
      default:
        return;
    }
  }

  /** Catch up after every (re)connect: what changed since the cursor, then the messages after each conversation's last seq. */
  private resync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    if (this.syncRetryTimer) clearTimeout(this.syncRetryTimer);
    this.syncRetryTimer = null;
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        try {
          await this.syncOnce();
        } catch (err) {
          const apiErr = err instanceof ApiError ? err : new ApiError('network_error', String(err), { cause: err });
          this.events.fire('error', apiErr);
          // A cursor the server no longer accepts (its data was restored, say) would fail forever: start over from a full sync.
          if (apiErr.code === 'invalid_request' && this.cursor) this.cursor = null;
          // Still online (a transient HTTP failure): try again soon; a reconnect would resync anyway.
          if (this.started && this.socket?.state === 'online' && apiErr.code !== 'unauthorized') {
            this.syncRetryTimer = setTimeout(() => void this.resync(), Math.max(1000, (apiErr.retryAfter ?? 0) * 1000));
          }
          return;
        }
      } while (this.syncAgain);
    })().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const [result, blocks] = await Promise.all([this.sync(this.cursor), this.blocks.all().catch(() => null)]);
    if (blocks) this.store.setBlocked(blocks.map((b) => b.user.id));
    for (const id of result.removed) {
      if (!this.store.getConversation(id) && !this.timelines.has(id)) continue;
      this.timelines.delete(id);
      this.store.removeConversation(id);
      this.events.fire('conversation.removed', id);
    }
    for (const c of result.conversations) {
      this.store.upsertConversation(c);
      if (this.initialSyncDone) this.events.fire('conversation', c);
    }
    const first = await this.firstPages(result.conversations);
    await Promise.all(result.conversations.map((c) => this.catchUp(c.id, c.lastSeq, first.get(c.id))));
    this.cursor = result.cursor;
    this.initialSyncDone = true;
    this.events.fire('synced');
  }

  private timeline(conversationId: string): Timeline {
    let t = this.timelines.get(conversationId);
    if (!t) {
      t = { known: undefined, buffer: new Map(), chain: Promise.resolve(), deliveredSent: 0 };
      this.timelines.set(conversationId, t);
    }
    return t;
  }

  /** Run a step of a conversation's work after the previous one; failures are reported, not thrown. */
  private enqueue(conversationId: string, step: () => Promise<void>): Promise<void> {
    const t = this.timeline(conversationId);
    const next = t.chain.then(step).catch((err) => {
      const apiErr = err instanceof ApiError ? err : new ApiError('network_error', String(err), { cause: err });
      this.events.fire('error', apiErr);
      // Envelopes held behind a gap must not wait for the next message or reconnect to show.
      if (t.buffer.size > 0 && this.started && apiErr.transient) {
        setTimeout(() => {
          if (this.started && this.timelines.get(conversationId) === t && t.buffer.size > 0) void this.catchUp(conversationId, 0);
        }, Math.max(1000, (apiErr.retryAfter ?? 0) * 1000));
      }
    });
    t.chain = next;
    return next;
  }

  private catchUp(conversationId: string, target: number, first?: FirstPage): Promise<void> {
    return this.enqueue(conversationId, () => this.fill(conversationId, target, first));
  }

  /**
   * The first page `fill` will want of each conversation a sync found changed, fetched for
   * all of them at once (POST /v1/sync/messages, up to 100 conversations a request) instead
   * of one request per conversation: a device back after a night away asks once, not fifty
   * times. Only a hint: `fill` uses a page only if the conversation is still where it was
   * asked from, and fetches anything missing (a conversation left out of a full response, an
   * error, a server without the route) itself.
   */
  private async firstPages(conversations: Conversation[]): Promise<Map<string, FirstPage>> {
    const out = new Map<string, FirstPage>();
    const forward: HistoryBatchItem[] = [];
    const latest: HistoryBatchItem[] = [];
    for (const c of conversations) {
      const known = this.timelines.get(c.id)?.known;
      if (known !== undefined) {
        if (known < c.lastSeq) forward.push({ conversationId: c.id, after: known });
      } else if (c.lastSeq === 0) {
        continue;
      } else if (this.initialSyncDone) {
        // New since the last sync: all of it is news, from the start (as `fill` pages it).
        forward.push({ conversationId: c.id, after: 0 });
      } else {
        latest.push({ conversationId: c.id, before: c.lastSeq + 1 });
      }
    }
    const batches: [HistoryBatchItem[], number][] = [];
    for (const [items, limit] of [[forward, HISTORY_PAGE], [latest, this.pageSize]] as const) {
      // One conversation is one request either way.
      if (items.length < 2) continue;
      const size = batchSize(items.length);
      for (let i = 0; i < items.length; i += size) batches.push([items.slice(i, i + size), limit]);
    }
    const worker = async () => {
      for (let b = batches.shift(); b; b = batches.shift()) {
        const [items, limit] = b;
        let pages: HistoryBatchPage[];
        try {
          pages = await this.messages.historyBatch(items, limit);
        } catch {
          continue; // each conversation's own requests will try (and report an error that persists)
        }
        const asked = new Map(items.map((i) => [i.conversationId, i]));
        for (const p of pages) {
          const item = asked.get(p.conversationId);
          if (item && p.messages) out.set(p.conversationId, { after: item.after, before: item.before, limit, envelopes: p.messages });
        }
      }
    };
    await Promise.all(Array.from({ length: BATCHES_IN_FLIGHT }, worker));
    return out;
  }

  /** Apply one envelope from the socket: in order, after filling any gap before it. */
  private async ingest(envelope: Envelope): Promise<void> {
    const t = this.timeline(envelope.conversationId);
    if (t.known === undefined || envelope.seq > t.known + 1) {
      t.buffer.set(envelope.seq, envelope);
      await this.fill(envelope.conversationId, envelope.seq);
      return;
    }
    await this.applyEnvelopes(envelope.conversationId, [envelope], true);
    if (envelope.seq === t.known + 1) t.known = envelope.seq;
  }

  /**
   * Bring a conversation up to `target`: on first sight, load its latest page (history, not
   * news) when this is the first sync, or everything when it appeared later (it is all new);
   * then page forward from the last known seq. A gap the server cannot fill (expired
   * messages) is skipped once the server has nothing more.
   */
  private async fill(conversationId: string, target: number, first?: FirstPage): Promise<void> {
    const t = this.timeline(conversationId);
    for (const seq of t.buffer.keys()) target = Math.max(target, seq);
    // A page fetched ahead (firstPages) stands in for the first request below only if it was
    // asked exactly as that request would be.
    const ahead = (q: { after?: number; before?: number; limit: number }) =>
      first && first.after === q.after && first.before === q.before && first.limit === q.limit ? first.envelopes : undefined;
    if (t.known === undefined) {
      if (!this.initialSyncDone && target > 0) {
        const q = { before: target + 1, limit: this.pageSize };
        const page = ahead(q) ?? (await this.messages.history(conversationId, q));
        // History is loaded quietly; envelopes that came in live (buffered) are news and are announced below.
        await this.applyEnvelopes(conversationId, page.filter((e) => !t.buffer.has(e.seq)), false);
        t.known = Math.max(target, page.at(-1)?.seq ?? 0);
        this.store.setHasOlder(conversationId, (page[0]?.seq ?? 0) > 1);
      } else {
        t.known = 0;
      }
    }
    while (t.known < target) {
      const q = { after: t.known, limit: HISTORY_PAGE };
      const page = ahead(q) ?? (await this.messages.history(conversationId, q));
      first = undefined;
      if (page.length === 0) break;
      await this.applyEnvelopes(conversationId, page, true);
      t.known = Math.max(t.known, page.at(-1)!.seq);
      if (page.length < HISTORY_PAGE) break;
    }
    const buffered = [...t.buffer.values()].sort((a, b) => a.seq - b.seq);
    t.buffer.clear();
    if (buffered.length) {
      await this.applyEnvelopes(conversationId, buffered, true);
      t.known = Math.max(t.known, buffered.at(-1)!.seq);
    }
  }

  private async applyEnvelopes(conversationId: string, envelopes: Envelope[], announce: boolean): Promise<void> {
    if (envelopes.length === 0) return;
    const items = [];
    for (const envelope of envelopes) {
      let plain: PlainContent | null = null;
      let unreadable = false;
      const mine = envelope.senderId === this.identity?.userId ? this.own.get(envelope.clientId) : undefined;
      if (envelope.content && mine) {
        plain = mine.plain;
      } else if (envelope.content) {
        try {
          plain = await this.codec.decode(conversationId, envelope.content);
        } catch {
          unreadable = true;
        }
      }
      items.push({ envelope, plain, unreadable });
    }
    const fresh = new Set(this.store.apply(conversationId, items).map((e) => e.id));
    let echoed = false;
    for (const { envelope } of items) {
      if (envelope.senderId === this.identity?.userId && this.awaitingEcho.delete(envelope.clientId)) echoed = true;
    }
    if (echoed) this.refreshPending();
    if (!announce) return;
    let newestFromOthers = 0;
    for (const { envelope, plain } of items) {
      if (!fresh.has(envelope.id)) continue;
      this.events.fire('message', envelope, plain);
      if (envelope.senderId !== this.identity?.userId) newestFromOthers = Math.max(newestFromOthers, envelope.seq);
    }
    const t = this.timeline(conversationId);
    if (this.options.sendDeliveryMarkers !== false && newestFromOthers > t.deliveredSent && this.socket?.send({ type: 'delivered', conversationId, seq: newestFromOthers })) {
      t.deliveredSent = newestFromOthers;
    }
  }
}
