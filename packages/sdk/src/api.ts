import { Http, type BinaryBody, type HttpOptions } from './http.ts';
import type {
  Ack,
  AddMembersInput,
  Attachment,
  AttachmentUsage,
  Pin,
  AuthResult,
  BlockList,
  ConnectionList,
  ConnectionResult,
  ConnectionState,
  Conversation,
  ConversationList,
  ConversationListInput,
  ConversationPatchInput,
  ConversationSettingsInput,
  Invite,
  ConversationWithNotAdded,
  CreateConversationInput,
  Envelope,
  HistoryBatchItem,
  HistoryBatchPage,
  HistoryInput,
  PrivacyInput,
  PrivacySettings,
  ProfileInput,
  ReportInput,
  Role,
  SendBody,
  Session,
  SignInInput,
  SignUpInput,
  SyncResult,
  User,
} from './types.ts';

const enc = encodeURIComponent;

/**
 * Every HTTP endpoint of the Parley API, typed, grouped by resource. `ParleyClient` extends
 * it with the socket, sync, outbox and local store; use `ParleyApi` alone for scripts that
 * only need HTTP.
 *
 * @example
 * const api = new ParleyApi({ baseUrl: 'http://localhost:8080' });
 * const { user } = await api.accounts.signUp({ username: 'ada', password: 'correct horse battery' });
 * const me = await api.me.get();
 */
export class ParleyApi {
  protected readonly http: Http;

  constructor(options: HttpOptions & { token?: string | null }) {
    this.http = new Http(options);
    this.http.token = options.token ?? null;
  }

  /** The server's base URL (without `/v1`). */
  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /** The session token in use, or null when signed out. */
  get token(): string | null {
    return this.http.token;
  }

  /**
   * Use a token obtained elsewhere (a saved session, a host platform's token).
   *
   * @example
   * client.setToken(localStorage.getItem('parley.token'));
   */
  setToken(token: string | null): void {
    this.http.token = token;
  }

  /** Sign-up and sign-in; both keep the new session's token on this client. */
  readonly accounts = {
    /**
     * Create an account and a first session (409 `username_taken`).
     *
     * @example
     * const { user, session } = await client.accounts.signUp({ username: 'ada', password: 'correct horse battery', deviceName: 'laptop' });
     */
    signUp: async (input: SignUpInput): Promise<AuthResult> => {
      const result = await this.http.request<AuthResult>('POST', '/v1/accounts', { body: input, auth: false });
      this.http.token = result.session.token;
      this.onSignedIn(result);
      return result;
    },
    /**
     * Sign in on this device (401 `unauthorized` for a wrong password or an unknown user alike).
     *
     * @example
     * await client.accounts.signIn({ username: 'ada', password: 'correct horse battery' });
     */
    signIn: async (input: SignInInput): Promise<AuthResult> => {
      const result = await this.http.request<AuthResult>('POST', '/v1/sessions', { body: input, auth: false });
      this.http.token = result.session.token;
      this.onSignedIn(result);
      return result;
    },
  };

  /** This account's device sessions. */
  readonly sessions = {
    /**
     * The devices signed in to this account; `current` marks this one.
     *
     * @example
     * const sessions = await client.sessions.list();
     */
    list: async (): Promise<Session[]> => (await this.http.request<{ sessions: Session[] }>('GET', '/v1/sessions')).sessions,
    /**
     * Sign a device out; its sockets close at once. Revoking the current session signs this client out.
     *
     * @example
     * await client.sessions.revoke(session.id);
     */
    revoke: async (sessionId: string): Promise<void> => {
      await this.http.request<void>('DELETE', `/v1/sessions/${enc(sessionId)}`);
    },
  };

  /** The signed-in user. */
  readonly me = {
    /**
     * My profile.
     *
     * @example
     * const me = await client.me.get();
     */
    get: (): Promise<User> => this.http.request<User>('GET', '/v1/me'),
    /**
     * Change my display name or bio.
     *
     * @example
     * await client.me.update({ displayName: 'Ada L.' });
     */
    update: (patch: ProfileInput): Promise<User> => this.http.request<User>('PATCH', '/v1/me', { body: patch }),
    /**
     * Change my password; every other session is signed out.
     *
     * @example
     * await client.me.changePassword('old password', 'a better password');
     */
    changePassword: async (currentPassword: string, newPassword: string): Promise<void> => {
      await this.http.request<void>('PUT', '/v1/me/password', { body: { currentPassword, newPassword } });
    },
    /**
     * Delete the account and its data.
     *
     * @example
     * await client.me.delete('my password');
     */
    delete: async (password: string): Promise<void> => {
      await this.http.request<void>('DELETE', '/v1/me', { body: { password } });
      this.http.token = null;
    },
    /**
     * Everything the server holds about me, as JSON.
     *
     * @example
     * const data = await client.me.export();
     */
    export: (): Promise<Record<string, unknown>> => this.http.request<Record<string, unknown>>('GET', '/v1/me/export'),
  };

  /** Who may contact me, add me to groups, see my presence and read receipts. */
  readonly privacy = {
    /**
     * My privacy settings.
     *
     * @example
     * const { whoCanMessage } = await client.privacy.get();
     */
    get: (): Promise<PrivacySettings> => this.http.request<PrivacySettings>('GET', '/v1/me/privacy'),
    /**
     * Change some privacy settings.
     *
     * @example
     * await client.privacy.update({ readReceipts: false });
     */
    update: (patch: PrivacyInput): Promise<PrivacySettings> => this.http.request<PrivacySettings>('PATCH', '/v1/me/privacy', { body: patch }),
  };

  /** Public profiles. */
  readonly users = {
    /**
     * One profile by id (404 when they blocked you).
     *
     * @example
     * const bob = await client.users.get(bobId);
     */
    get: (userId: string): Promise<User> => this.http.request<User>('GET', `/v1/users/${enc(userId)}`),
    /**
     * Search by username or display name prefix.
     *
     * @example
     * const people = await client.users.search('bo');
     */
    search: async (query: string, limit?: number): Promise<User[]> =>
      (await this.http.request<{ users: User[] }>('GET', '/v1/users', { query: { query, limit } })).users,
    /**
     * One page of a search; page on with `nextCursor` (null at the end). A page may hold
     * fewer than `limit` people: those you may not see are left out after the page is cut.
     *
     * @example
     * let page = await client.users.searchPage('bo', { limit: 50 });
     * while (page.nextCursor) page = await client.users.searchPage('bo', { cursor: page.nextCursor });
     */
    searchPage: (query: string, page: { limit?: number; cursor?: string } = {}): Promise<{ users: User[]; nextCursor: string | null }> =>
      this.http.request<{ users: User[]; nextCursor: string | null }>('GET', '/v1/users', { query: { query, limit: page.limit, cursor: page.cursor } }),
  };

  /** Connections (mutual contacts) and connection requests. */
  readonly connections = {
    /**
     * Request a connection; if they already requested you, you are connected.
     *
     * @example
     * const { state } = await client.connections.request(bobId); // 'outgoing' or 'connected'
     */
    request: (userId: string): Promise<ConnectionResult> => this.http.request<ConnectionResult>('POST', `/v1/connections/${enc(userId)}`),
    /**
     * Accept an incoming request.
     *
     * @example
     * await client.connections.accept(aliceId);
     */
    accept: (userId: string): Promise<ConnectionResult> => this.http.request<ConnectionResult>('POST', `/v1/connections/${enc(userId)}/accept`),
    /**
     * Decline an incoming request, cancel an outgoing one, or remove a connection.
     *
     * @example
     * await client.connections.remove(bobId);
     */
    remove: async (userId: string): Promise<void> => {
      await this.http.request<void>('DELETE', `/v1/connections/${enc(userId)}`);
    },
    /**
     * One page of connections in a state (default `connected`); page on with `nextCursor`.
     *
     * @example
     * const { connections, nextCursor } = await client.connections.list({ state: 'incoming' });
     */
    list: (query: { state?: ConnectionState; limit?: number; cursor?: string } = {}): Promise<ConnectionList> =>
      this.http.request<ConnectionList>('GET', '/v1/connections', { query: { state: query.state, limit: query.limit, cursor: query.cursor } }),
  };

  /** Blocks. Blocking is never announced to the blocked person. */
  readonly blocks = {
    /**
     * Block someone.
     *
     * @example
     * await client.blocks.add(spammerId);
     */
    add: async (userId: string): Promise<void> => {
      await this.http.request<void>('PUT', `/v1/blocks/${enc(userId)}`);
      this.onBlocksChanged(userId, true);
    },
    /**
     * Unblock someone.
     *
     * @example
     * await client.blocks.remove(userId);
     */
    remove: async (userId: string): Promise<void> => {
      await this.http.request<void>('DELETE', `/v1/blocks/${enc(userId)}`);
      this.onBlocksChanged(userId, false);
    },
    /**
     * One page of the people I blocked; page on with `nextCursor`.
     *
     * @example
     * const { blocks, nextCursor } = await client.blocks.list({ limit: 100 });
     */
    list: (query: { limit?: number; cursor?: string } = {}): Promise<BlockList> =>
      this.http.request<BlockList>('GET', '/v1/blocks', { query: { limit: query.limit, cursor: query.cursor } }),
    /**
     * Everyone I blocked (every page).
     *
     * @example
     * const blockedIds = (await client.blocks.all()).map((b) => b.user.id);
     */
    all: async (): Promise<BlockList['blocks']> => {
      const all: BlockList['blocks'] = [];
      let cursor: string | undefined;
      do {
        const page = await this.http.request<BlockList>('GET', '/v1/blocks', { query: { limit: 200, cursor } });
        all.push(...page.blocks);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return all;
    },
  };

  /** Direct and group conversations. */
  readonly conversations = {
    /**
     * Open (or reuse) a direct conversation, or create a group. A group answers `notAdded`
     * for people whose settings forbid it (403 `messaging_not_allowed` for a direct one).
     *
     * @example
     * const dm = await client.conversations.create({ type: 'direct', userId: bobId });
     * const group = await client.conversations.create({ type: 'group', title: 'Climbing', memberIds: [bobId, carolId] });
     */
    create: (input: CreateConversationInput): Promise<ConversationWithNotAdded> =>
      this.http.request<ConversationWithNotAdded>('POST', '/v1/conversations', { body: input }),
    /**
     * One page of conversations, most recently active first; `folder: 'requests'` lists message requests.
     *
     * @example
     * const { conversations, nextCursor } = await client.conversations.list({ folder: 'inbox' });
     */
    list: (query: ConversationListInput = {}): Promise<ConversationList> =>
      this.http.request<ConversationList>('GET', '/v1/conversations', { query: { folder: query.folder, limit: query.limit, cursor: query.cursor } }),
    /**
     * One conversation (404 when I am not a member).
     *
     * @example
     * const c = await client.conversations.get(conversationId);
     */
    get: (conversationId: string): Promise<Conversation> => this.http.request<Conversation>('GET', `/v1/conversations/${enc(conversationId)}`),
    /**
     * Change a group's title, description or avatar (whoever `infoEditableBy` names: admins
     * by default), who may change them (`infoEditableBy`, admins), or the disappearing-message
     * timer (either member of a direct conversation; admins in a group). The avatar is an
     * attachment I uploaded; every member may download it.
     *
     * @example
     * await client.conversations.update(id, { disappearingSeconds: 86400 });
     * const picture = await client.attachments.upload(file);
     * await client.conversations.update(groupId, { description: 'Sunday climbs', avatarAttachmentId: picture.id, infoEditableBy: 'members' });
     */
    update: (conversationId: string, patch: ConversationPatchInput): Promise<Conversation> =>
      this.http.request<Conversation>('PATCH', `/v1/conversations/${enc(conversationId)}`, { body: patch }),
    /**
     * Accept a message request.
     *
     * @example
     * await client.conversations.accept(requestId);
     */
    accept: (conversationId: string): Promise<Conversation> => this.http.request<Conversation>('POST', `/v1/conversations/${enc(conversationId)}/accept`),
    /**
     * Decline a message request (the sender is not told).
     *
     * @example
     * await client.conversations.decline(requestId);
     */
    decline: (conversationId: string): Promise<Conversation> => this.http.request<Conversation>('POST', `/v1/conversations/${enc(conversationId)}/decline`),
    /**
     * My per-conversation settings; send only what changes. `muted` (until I unmute, or
     * until `mutedUntil`), `archived` (out of the inbox, into `folder: 'archived'`), `pinned`
     * (top of the inbox; at most 5, else 409 `limit_reached`). Archiving unpins; pinning unarchives.
     *
     * @example
     * await client.conversations.settings(id, { muted: true });
     * await client.conversations.settings(id, { mutedUntil: new Date(Date.now() + 8 * 3600_000).toISOString() });
     */
    settings: (conversationId: string, settings: ConversationSettingsInput): Promise<Conversation> =>
      this.http.request<Conversation>('PUT', `/v1/conversations/${enc(conversationId)}/settings`, { body: settings }),
    /**
     * Mute a conversation, for good or until a time (then it ends by itself).
     *
     * @example
     * await client.conversations.mute(id); // until I unmute
     * await client.conversations.mute(id, new Date(Date.now() + 3600_000)); // for an hour
     */
    mute: (conversationId: string, until?: Date | string | null): Promise<Conversation> =>
      this.conversations.settings(conversationId, until ? { muted: true, mutedUntil: new Date(until).toISOString() } : { muted: true }),
    /**
     * Unmute a conversation.
     *
     * @example
     * await client.conversations.unmute(id);
     */
    unmute: (conversationId: string): Promise<Conversation> => this.conversations.settings(conversationId, { muted: false }),
    /**
     * Archive (or unarchive) a conversation. A new message brings it back to the inbox unless it is muted.
     *
     * @example
     * await client.conversations.archive(id);
     * await client.conversations.archive(id, false);
     */
    archive: (conversationId: string, archived = true): Promise<Conversation> => this.conversations.settings(conversationId, { archived }),
    /**
     * Pin (or unpin) a conversation to the top of the inbox; at most 5 (409 `limit_reached`).
     *
     * @example
     * await client.conversations.pin(id);
     */
    pin: (conversationId: string, pinned = true): Promise<Conversation> => this.conversations.settings(conversationId, { pinned }),
  };

  /** Group members and roles. */
  readonly members = {
    /**
     * Add people to a group (admins); those who cannot be added come back in `notAdded`.
     *
     * @example
     * const { notAdded } = await client.members.add(groupId, [daveId]);
     */
    add: (conversationId: string, userIds: AddMembersInput['userIds']): Promise<ConversationWithNotAdded> =>
      this.http.request<ConversationWithNotAdded>('POST', `/v1/conversations/${enc(conversationId)}/members`, { body: { userIds } }),
    /**
     * Remove a member (admins), or leave when `userId` is mine.
     *
     * @example
     * await client.members.remove(groupId, me.id); // leave
     */
    remove: async (conversationId: string, userId: string): Promise<void> => {
      await this.http.request<unknown>('DELETE', `/v1/conversations/${enc(conversationId)}/members/${enc(userId)}`);
    },
    /**
     * Change a member's role (owner and admins).
     *
     * @example
     * await client.members.setRole(groupId, carolId, 'admin');
     */
    setRole: (conversationId: string, userId: string, role: Role): Promise<Conversation> =>
      this.http.request<Conversation>('PATCH', `/v1/conversations/${enc(conversationId)}/members/${enc(userId)}`, { body: { role } }),
    /**
     * Hand the group over (the owner only): they become the owner, I become an admin.
     *
     * @example
     * await client.members.transferOwnership(groupId, carolId);
     */
    transferOwnership: (conversationId: string, userId: string): Promise<Conversation> => this.members.setRole(conversationId, userId, 'owner'),
  };

  /** Invite links to groups. */
  readonly invites = {
    /**
     * Create an invite link for a group (admins). The token is shown only this once; `id` names the link later.
     *
     * @example
     * const { token, id } = await client.invites.create(groupId);
     */
    create: (conversationId: string): Promise<{ token: string; id: string }> => this.http.request<{ token: string; id: string }>('POST', `/v1/conversations/${enc(conversationId)}/invites`),
    /**
     * The group's links that still work (admins), newest first.
     *
     * @example
     * const links = await client.invites.list(groupId);
     */
    list: async (conversationId: string): Promise<Invite[]> => (await this.http.request<{ invites: Invite[] }>('GET', `/v1/conversations/${enc(conversationId)}/invites`)).invites,
    /**
     * Revoke a link (admins), by its id or its token: joining by it then fails with 404.
     *
     * @example
     * await client.invites.revoke(groupId, link.id);
     */
    revoke: async (conversationId: string, inviteIdOrToken: string): Promise<void> => {
      await this.http.request<unknown>('DELETE', `/v1/conversations/${enc(conversationId)}/invites/${enc(inviteIdOrToken)}`);
    },
    /**
     * Join a group by an invite token.
     *
     * @example
     * const group = await client.invites.join(token);
     */
    join: (token: string): Promise<Conversation> => this.http.request<Conversation>('POST', `/v1/invites/${enc(token)}`),
  };

  /**
   * Raw envelopes over HTTP. Most apps send through `ParleyClient.send` (optimistic, retried,
   * encoded by the codec) and read from the store; these are the underlying calls.
   */
  readonly messages = {
    /**
     * Post one envelope; the same `clientId` again returns the first ack.
     *
     * @example
     * const ack = await client.messages.post(id, { clientId: crypto.randomUUID(), kind: 'message', content: { encoding: 'plain', data: '{"type":"text","text":"hi"}' } });
     */
    post: (conversationId: string, body: SendBody): Promise<Ack> => this.http.request<Ack>('POST', `/v1/conversations/${enc(conversationId)}/messages`, { body }),
    /**
     * A page of envelopes in seq order: the first `limit` after `after`, or the last `limit` before `before`.
     *
     * @example
     * const older = await client.messages.history(id, { before: 120, limit: 50 });
     */
    history: async (conversationId: string, query: HistoryInput = {}): Promise<Envelope[]> =>
      (
        await this.http.request<{ messages: Envelope[] }>('GET', `/v1/conversations/${enc(conversationId)}/messages`, {
          query: { after: query.after, before: query.before, limit: query.limit },
        })
      ).messages,
    /**
     * A page of each of many conversations in one request (at most 100), as `history` would
     * answer each, in the order asked. A conversation the caller may not read comes back with
     * an `error` instead of `messages`; a response that reached the server's size budget leaves
     * the last conversations out (ask again for those).
     *
     * @example
     * const pages = await client.messages.historyBatch([{ conversationId: a, after: 41 }, { conversationId: b, after: 7 }], 200);
     */
    historyBatch: async (conversations: HistoryBatchItem[], limit?: number): Promise<HistoryBatchPage[]> =>
      (await this.http.request<{ pages: HistoryBatchPage[] }>('POST', '/v1/sync/messages', { body: { conversations, limit } })).pages,
    /**
     * Unsend a message for everyone (its sender; admins in groups).
     *
     * @example
     * await client.messages.delete(conversationId, messageId);
     */
    delete: async (conversationId: string, messageId: string): Promise<void> => {
      await this.http.request<unknown>('DELETE', `/v1/conversations/${enc(conversationId)}/messages/${enc(messageId)}`);
    },
  };

  /** Read and delivery markers (monotonic). */
  readonly markers = {
    /**
     * Mark everything up to `seq` as read; answers the marker after the call (never moves back).
     *
     * @example
     * await client.markers.read(conversationId, conversation.lastSeq);
     */
    read: (conversationId: string, seq: number): Promise<{ seq: number }> =>
      this.http.request<{ seq: number }>('POST', `/v1/conversations/${enc(conversationId)}/read`, { body: { seq } }),
    /**
     * Mark everything up to `seq` as delivered to this device; answers the marker after the call.
     *
     * @example
     * await client.markers.delivered(conversationId, envelope.seq);
     */
    delivered: (conversationId: string, seq: number): Promise<{ seq: number }> =>
      this.http.request<{ seq: number }>('POST', `/v1/conversations/${enc(conversationId)}/delivered`, { body: { seq } }),
  };

  /** Pinned messages of a conversation. */
  readonly pins = {
    /**
     * The pinned messages, most recently pinned first.
     *
     * @example
     * const pins = await client.pins.list(conversationId);
     */
    list: async (conversationId: string): Promise<Pin[]> => (await this.http.request<{ pins: Pin[] }>('GET', `/v1/conversations/${enc(conversationId)}/pins`)).pins,
    /**
     * Pin a message (any member of a direct conversation; admins in a group).
     *
     * @example
     * await client.pins.add(conversationId, message.id);
     */
    add: async (conversationId: string, messageId: string): Promise<Pin> => this.http.request<Pin>('POST', `/v1/conversations/${enc(conversationId)}/pins`, { body: { messageId } }),
    /**
     * Unpin a message.
     *
     * @example
     * await client.pins.remove(conversationId, message.id);
     */
    remove: async (conversationId: string, messageId: string): Promise<void> => {
      await this.http.request<unknown>('DELETE', `/v1/conversations/${enc(conversationId)}/pins/${enc(messageId)}`);
    },
  };

  /** Files. Upload first, then list the ids in a message's `attachmentIds`. */
  readonly attachments = {
    /**
     * Upload a file's bytes (413 `too_large` with `data.reason` "size" or "quota").
     *
     * @example
     * const file = input.files[0];
     * const attachment = await client.attachments.upload(file, { contentType: file.type, filename: file.name });
     * await client.send(conversationId, { type: 'text', text: '' }, { attachmentIds: [attachment.id] });
     */
    upload: (body: BinaryBody, options: { contentType?: string; filename?: string } = {}): Promise<Attachment> =>
      this.http.request<Attachment>('POST', '/v1/attachments', {
        raw: { body, contentType: options.contentType ?? ('type' in body && body.type ? body.type : 'application/octet-stream') },
        query: { filename: options.filename },
      }),
    /**
     * Download an attachment's bytes (its uploader, or members of a conversation that lists it).
     *
     * @example
     * const { bytes, contentType } = await client.attachments.download(id);
     * img.src = URL.createObjectURL(new Blob([bytes], { type: contentType }));
     */
    download: (attachmentId: string): Promise<{ bytes: Uint8Array; contentType: string }> =>
      this.http.request<{ bytes: Uint8Array; contentType: string }>('GET', `/v1/attachments/${enc(attachmentId)}`, { binary: true }),
    /**
     * Delete an upload of mine that no message lists yet (409 once one does).
     *
     * @example
     * await client.attachments.delete(attachment.id);
     */
    delete: async (attachmentId: string): Promise<void> => {
      await this.http.request<unknown>('DELETE', `/v1/attachments/${enc(attachmentId)}`);
    },
    /**
     * My storage: bytes used, quota, largest upload.
     *
     * @example
     * const { usedBytes, quotaBytes } = await client.attachments.usage();
     */
    usage: (): Promise<AttachmentUsage> => this.http.request<AttachmentUsage>('GET', '/v1/attachments/usage'),
  };

  /** Reports to the operator's moderation queue. */
  readonly reports = {
    /**
     * Report messages, with their content as this client shows it; optionally block the sender.
     *
     * @example
     * await client.reports.create({ conversationId, messageIds: [m.id], reason: 'spam', evidence: [{ messageId: m.id, senderId: m.senderId, content: m.text }], block: true });
     */
    create: async (input: ReportInput): Promise<{ id: string }> => {
      const created = await this.http.request<{ id: string }>('POST', '/v1/reports', { body: input });
      if (input.block) this.onBlocksReset();
      return created;
    },
  };

  /**
   * What changed since a cursor (every conversation without one).
   *
   * @example
   * const { cursor, conversations, removed } = await client.sync(savedCursor);
   */
  sync(cursor?: string | null): Promise<SyncResult> {
    return this.http.request<SyncResult>('GET', '/v1/sync', { query: { cursor: cursor ?? undefined } });
  }

  /** Whether the server is up (GET /v1/health). */
  async health(): Promise<boolean> {
    try {
      return (await this.http.request<{ status: string }>('GET', '/v1/health', { auth: false }))?.status === 'ok';
    } catch {
      return false;
    }
  }

  /** A hook for the client's local store: blocks change what a group shows. */
  protected onBlocksChanged(_userId: string, _blocked: boolean): void {}

  /** A hook for the client's local store: the block list changed in ways only a refetch tells. */
  protected onBlocksReset(): void {}

  /** A hook for the client: a new session on this device. */
  protected onSignedIn(_result: AuthResult): void {}
}
