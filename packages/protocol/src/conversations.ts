import { z } from 'zod';
import { Id, Timestamp } from './common.ts';
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

export const Conversation = z.object({
  id: Id,
  type: ConversationType,
  title: z.string().nullable(),
  members: z.array(Member),
  myState: MemberState,
  lastSeq: z.number().int(),
  unreadCount: z.number().int(),
  muted: z.boolean(),
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
  folder: z.enum(['inbox', 'requests']).default('inbox'),
  limit: z.coerce.number().int().min(1).max(LIMITS.pageMax).default(LIMITS.pageDefault),
  cursor: z.string().min(1).max(512).optional(),
});
export const ConversationList = z.object({ conversations: z.array(Conversation), nextCursor: z.string().nullable() });

export const ConversationPatch = z
  .object({
    title: z.string().trim().min(1).max(LIMITS.titleMax).optional(),
    disappearingSeconds: DisappearingSeconds.optional(),
  })
  .strict();

export const AddMembersBody = z.object({ userIds: z.array(Id).min(1).max(LIMITS.groupMembersPerRequest) });
export const MemberPatch = z.object({ role: Role });
export const ConversationSettings = z.object({ muted: z.boolean() });
export const InviteResult = z.object({ token: z.string() });

/**
 * What a `system` envelope records (its plain payload is a SystemContent with one of these
 * events, the acting user and the event's data), so history shows who did what.
 */
export const SYSTEM_EVENTS = [
  'title_changed', // {title}
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
