import type {
  AddMembersBody,
  AuthResult as AuthResultSchema,
  BlockList as BlockListSchema,
  ConnectionList as ConnectionListSchema,
  ConnectionResult as ConnectionResultSchema,
  ConversationList as ConversationListSchema,
  ConversationListQuery,
  ConversationPatch,
  ConversationSettings as ConversationSettingsSchema,
  ConversationWithNotAdded as ConversationWithNotAddedSchema,
  CreateConversationBody,
  HistoryBatchPage as HistoryBatchPageSchema,
  PrivacyPatch,
  ProfilePatch,
  ReportBody,
  SendBody as SendBodySchema,
  SignInBody,
  SignUpBody,
  Block as BlockSchema,
  NotAdded as NotAddedSchema,
} from '@parley/protocol';

/** The parsed type of a protocol schema (what the server answers). */
type Out<S> = S extends { _zod: { output: infer O } } ? O : never;
/** What a protocol schema accepts (what a client may send: defaults are optional). */
type In<S> = S extends { _zod: { input: infer I } } ? I : never;

export type {
  User,
  Session,
  PrivacySettings,
  Connection,
  ConnectionState,
  Conversation,
  Member,
  Role,
  MemberState,
  Envelope,
  EnvelopeKind,
  Content,
  Ack,
  SyncResult,
  Report,
  PlainContent,
  Refs,
  MarkerKind,
  ServerFrame,
  ClientFrame,
  Attachment,
  AttachmentUsage,
  AttachmentInfo,
  AttachmentKind,
  TextContent,
  Pin,
  Invite,
  InfoEditableBy,
} from '@parley/protocol';

export type AuthResult = Out<typeof AuthResultSchema>;
export type SignUpInput = In<typeof SignUpBody>;
export type SignInInput = In<typeof SignInBody>;
export type ProfileInput = In<typeof ProfilePatch>;
export type PrivacyInput = In<typeof PrivacyPatch>;
export type ConnectionList = Out<typeof ConnectionListSchema>;
export type ConnectionResult = Out<typeof ConnectionResultSchema>;
export type Block = Out<typeof BlockSchema>;
export type BlockList = Out<typeof BlockListSchema>;
export type CreateConversationInput = In<typeof CreateConversationBody>;
export interface ConversationListInput {
  folder?: Out<typeof ConversationListQuery>['folder'];
  limit?: number;
  cursor?: string;
}
export type ConversationList = Out<typeof ConversationListSchema>;
export type ConversationPatchInput = In<typeof ConversationPatch>;
export type ConversationWithNotAdded = Out<typeof ConversationWithNotAddedSchema>;
/** My settings for a conversation: send only what changes (see `client.conversations.settings`). */
export type ConversationSettingsInput = In<typeof ConversationSettingsSchema>;
export type NotAdded = Out<typeof NotAddedSchema>;
export type AddMembersInput = In<typeof AddMembersBody>;
/** `after` or `before` a seq (not both), and a page size. */
export interface HistoryInput {
  after?: number;
  before?: number;
  limit?: number;
}
/** One conversation of a batch of pages: `after` or `before` a seq (not both), or neither for the latest. */
export interface HistoryBatchItem {
  conversationId: string;
  after?: number;
  before?: number;
}
/** A conversation's page in a batch, or the error in its place (`not_found` for one the caller may not read). */
export type HistoryBatchPage = Out<typeof HistoryBatchPageSchema>;
export type SendBody = Out<typeof SendBodySchema>;
export type ReportInput = In<typeof ReportBody>;
