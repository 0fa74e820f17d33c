import { z } from 'zod';
import { Id, OptionalCursor, Timestamp } from './common.ts';
import { LIMITS } from './limits.ts';

export const ConversationType = z.enum(['direct', 'group']);
export const Role = z.enum(['owner', 'admin', 'member']);
export type Role = z.infer<typeof Role>;
export const MemberState = z.enum(['active', 'request', 'declined']);
export type MemberState = z.infer<typeof MemberState>;

export const Member = z.object({ userId: Id, role: Role, state: MemberState });
export type Member = z.infer<typeof Member>;

/** The disappearing-message timers people may choose, in seconds (0 = off). */
export const DISAPPEARING_CHOICES = [0, 300, 3600, 86_400, 604_800, 7_776_000] as const;
export const DisappearingSeconds = z
  .number()
  .int()
  .refine((n) => (DISAPPEARING_CHOICES as readonly number[]).includes(n), {
    message: `must be one of ${DISAPPEARING_CHOICES.join(', ')}`,
  });

/** Who may change a group's info (title, description, avatar). Only admins change the policy itself. */
export const InfoEditableBy = z.enum(['admins', 'members']);
export type InfoEditableBy = z.infer<typeof InfoEditableBy>;

export const Conversation = z.object({
  id: Id,
  type: ConversationType,
  title: z.string().nullable(),
  description: z.string().describe('a group’s description ("" when none; always "" for a direct conversation)'),
  avatarAttachmentId: Id.nullable().describe('the group’s picture: an attachment every member may download'),
  infoEditableBy: InfoEditableBy.describe('who may change title, description and avatar (groups; "members" for a direct conversation)'),
  members: z.array(Member),
  myState: MemberState,
  lastSeq: z.number().int(),
  unreadCount: z.number().int(),
  muted: z.boolean().describe('muted for me now (false once mutedUntil has passed)'),
  mutedUntil: Timestamp.nullable().describe('when my mute ends by itself; null while unmuted or muted until I unmute'),
  archived: z.boolean().describe('archived by me: listed in folder=archived, not in the inbox'),
  pinned: z.boolean().describe('pinned by me to the top of the inbox'),
  disappearingSeconds: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Conversation = z.infer<typeof Conversation>;

export const NotAdded = z.object({
  userId: Id,
  reason: z.enum(['not_allowed', 'not_found', 'member_limit']).describe('never reveals a block: a block reads as not_allowed'),
});

export const CreateConversationBody = z.discriminatedUnion('type', [
  z.object({ type: z.literal('direct'), userId: Id }),
  z.object({
    type: z.literal('group'),
    title: z.string().trim().min(1).max(LIMITS.titleMax),
    memberIds: z.array(Id).max(LIMITS.groupMembersPerRequest).default([]),
  }),
]);
export const ConversationWithNotAdded = Conversation.extend({ notAdded: z.array(NotAdded) });

export const ConversationListQuery = z.object({
  folder: z
    .enum(['inbox', 'requests', 'archived'])
    .default('inbox')
    .describe('inbox: accepted conversations I have not archived, pinned ones first; requests: message requests; archived: those I archived'),
  limit: z.coerce.number().int().min(1).max(LIMITS.pageMax).default(LIMITS.pageDefault),
  cursor: OptionalCursor,
});
export const ConversationList = z.object({ conversations: z.array(Conversation), nextCursor: z.string().nullable() });

export const ConversationPatch = z
  .object({
    title: z.string().trim().min(1).max(LIMITS.titleMax).optional(),
    description: z.string().trim().max(LIMITS.descriptionMax).optional().describe('groups: "" clears it'),
    avatarAttachmentId: Id.nullable().optional().describe('groups: an attachment I uploaded, or null to remove the picture'),
    infoEditableBy: InfoEditableBy.optional().describe('groups, admins only: who may change title, description and avatar'),
    disappearingSeconds: DisappearingSeconds.optional(),
  })
  .strict();

export const AddMembersBody = z.object({ userIds: z.array(Id).min(1).max(LIMITS.groupMembersPerRequest) });
export const MemberPatch = z.object({ role: Role });
/**
 * My settings for one conversation; send only what changes. `{muted: true}` mutes until I
 * unmute; `mutedUntil` (a future time) mutes until then and the mute ends by itself;
 * `{muted: false}` unmutes. Archiving unpins; pinning unarchives.
 */
export const ConversationSettings = z
  .object({
    muted: z.boolean().optional(),
    mutedUntil: z.iso.datetime({ offset: true }).nullable().optional().describe('ISO time when the mute ends by itself (implies muted), or null for no end'),
    archived: z.boolean().optional(),
    pinned: z.boolean().optional().describe(`at most ${LIMITS.pinnedConversationsMax} pinned conversations (409 limit_reached)`),
  })
  .strict()
  .refine((s) => Object.keys(s).length > 0, { message: 'name at least one setting' })
  .refine((s) => !(s.muted === false && s.mutedUntil), { message: 'mutedUntil needs muted to be true', path: ['mutedUntil'] })
  .refine((s) => !s.mutedUntil || Date.parse(s.mutedUntil) > Date.now(), { message: 'must be in the future', path: ['mutedUntil'] })
  .refine((s) => !(s.archived === true && s.pinned === true), { message: 'an archived conversation cannot be pinned', path: ['pinned'] });
export type ConversationSettings = z.infer<typeof ConversationSettings>;

export const InviteResult = z.object({ token: z.string(), id: Id.describe('names the link in the invite list and when revoking it') });

/** An invite link as admins see it (the token itself is shown only once, when created). */
export const Invite = z.object({ id: Id, conversationId: Id, createdBy: Id, createdAt: Timestamp });
export type Invite = z.infer<typeof Invite>;
export const InviteList = z.object({ invites: z.array(Invite).describe('links that still work, newest first') });

/**
 * What a `system` envelope records (its plain payload is a SystemContent with one of these
 * events, the acting user and the event's data), so history shows who did what.
 */
export const SYSTEM_EVENTS = [
  'title_changed', // {title}
  'description_changed', // {description}
  'avatar_changed', // {attachmentId: string | null}
  'info_policy_changed', // {infoEditableBy}
  'disappearing_changed', // {seconds}
  'members_added', // {userIds}
  'member_removed', // {userId}
  'member_left', // {userId, newOwnerId?}
  'member_joined', // {userId, invitedBy}: joined by an invite link
  'role_changed', // {userId, role}
  'owner_changed', // {userId, previousOwnerId}
  'message_pinned', // {messageId}
  'message_unpinned', // {messageId}
] as const;
export type SystemEvent = (typeof SYSTEM_EVENTS)[number];
