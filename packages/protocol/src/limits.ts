/** Limits shared by server and clients. */
export const LIMITS = {
  /** Largest message payload (`content.data`), in bytes once decoded. */
  payloadBytes: 64 * 1024,
  /** Default and largest page size of every list. */
  pageDefault: 50,
  pageMax: 200,
  /** Conversations one request for history pages in a batch (POST /v1/sync/messages) may name. */
  historyBatchMax: 100,
  usernameMin: 3,
  usernameMax: 32,
  passwordMin: 8,
  passwordMax: 1024,
  displayNameMax: 64,
  bioMax: 500,
  titleMax: 128,
  /** A group's description. */
  descriptionMax: 1024,
  /** Conversations one person may pin to the top of their inbox. */
  pinnedConversationsMax: 5,
  /** Conversations one message may be forwarded to at once. */
  forwardMax: 5,
  deviceNameMax: 64,
  clientIdMax: 64,
  groupMembersPerRequest: 200,
  attachmentsPerMessage: 32,
  reportReasonMax: 2000,
  reportEvidenceMax: 64 * 1024,
  /** Largest WebSocket frame the server accepts, in bytes. */
  wsFrameBytes: 128 * 1024,
} as const;
