import type { Generated } from 'kysely';

/**
 * The database as Kysely sees it. Portable types only: text ids and ISO-8601 text times
 * (they sort as they compare), integers for booleans (0/1) and counters, JSON in text.
 */
export interface UsersTable {
  id: string;
  username: string;
  display_name: string;
  bio: string;
  password_hash: string | null;
  who_can_message: string;
  who_can_add_to_groups: string;
  read_receipts: number;
  presence: string;
  last_seen_at: string | null;
  external_id: string | null;
  created_at: string;
  deleted_at: string | null;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  device_name: string;
  created_at: string;
  last_active_at: string;
}

/** Two rows per relation, one from each side: state is as seen by user_id. */
export interface ConnectionsTable {
  user_id: string;
  peer_id: string;
  state: 'connected' | 'incoming' | 'outgoing';
  since: string;
}

export interface BlocksTable {
  blocker_id: string;
  blocked_id: string;
  created_at: string;
}

export interface ConversationsTable {
  id: string;
  type: 'direct' | 'group';
  /** For direct conversations: the two user ids, sorted and joined; unique, so two racing creates yield one. */
  direct_key: string | null;
  title: string | null;
  description: string;
  avatar_attachment_id: string | null;
  /** Who may change title, description and avatar: 'admins' or 'members'. */
  info_policy: string;
  last_seq: number;
  disappearing_seconds: number;
  created_by: string | null;
  created_at: string;
  /** Last activity (message or change); lists sort by it, sync compares against it. */
  updated_at: string;
}

export interface MembersTable {
  conversation_id: string;
  user_id: string;
  role: 'owner' | 'admin' | 'member';
  state: 'active' | 'request' | 'declined';
  joined_at: string;
  /** The first seq this member may read (history before they joined is not theirs). */
  joined_seq: number;
  read_seq: number;
  delivered_seq: number;
  /** Messages sent by this member while their request was unanswered. */
  request_sent: number;
  muted: number;
  muted_until: string | null;
  archived: number;
  pinned_at: string | null;
  /** Per-user changes (markers, settings, state): sync compares against it. */
  updated_at: string;
}

/** Conversations a user left or was removed from: sync reports them as removed. */
export interface RemovalsTable {
  conversation_id: string;
  user_id: string;
  removed_at: string;
}

export interface MessagesTable {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  sender_device_id: string;
  client_id: string;
  kind: string;
  ref_target: string | null;
  ref_reply_to: string | null;
  encoding: string | null;
  data: string | null;
  /** JSON array of attachment ids. */
  attachment_ids: string;
  created_at: string;
  edited_at: string | null;
  deleted_at: string | null;
  expires_at: string | null;
}

export interface AttachmentsTable {
  id: string;
  owner_id: string;
  size: number;
  content_type: string;
  sha256: string;
  created_at: string;
  /** Set when an envelope first lists it; orphans (null after a day) are deleted. */
  referenced_at: string | null;
  /** The name the uploader offered (0040). */
  filename: string | null;
}

export interface AttachmentRefsTable {
  attachment_id: string;
  conversation_id: string;
  message_id: string;
}

export interface InvitesTable {
  /** What admins list and revoke a link by (0042); the token itself is never stored. */
  id: string;
  token_hash: string;
  conversation_id: string;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
}

export interface PinnedMessagesTable {
  conversation_id: string;
  message_id: string;
  pinned_by: string;
  pinned_at: string;
}

export interface ReportsTable {
  id: string;
  reporter_id: string;
  conversation_id: string;
  /** JSON arrays. */
  message_ids: string;
  reported_user_ids: string;
  evidence: string;
  reason: string;
  status: 'open' | 'resolved';
  resolution: string | null;
  created_at: string;
  resolved_at: string | null;
}

export interface DailyCountersTable {
  user_id: string;
  name: string;
  day: string;
  count: Generated<number>;
}

export interface DB {
  users: UsersTable;
  sessions: SessionsTable;
  connections: ConnectionsTable;
  blocks: BlocksTable;
  conversations: ConversationsTable;
  members: MembersTable;
  removals: RemovalsTable;
  messages: MessagesTable;
  attachments: AttachmentsTable;
  attachment_refs: AttachmentRefsTable;
  invites: InvitesTable;
  pinned_messages: PinnedMessagesTable;
  reports: ReportsTable;
  daily_counters: DailyCountersTable;
}
