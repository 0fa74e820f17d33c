import type { Conversation, MessageView } from '@parley/sdk';
import type { UserDirectory } from './users.ts';

/** The other person of a direct conversation (or myself, for a note-to-self). */
export function otherMemberId(c: Conversation, meId: string): string {
  return c.members.find((m) => m.userId !== meId)?.userId ?? meId;
}

export function conversationName(c: Conversation, meId: string, users: UserDirectory): string {
  if (c.type === 'group') return c.title || 'Unnamed group';
  return users.name(otherMemberId(c, meId));
}

/** The id whose colour and initials the conversation's avatar uses. */
export function conversationAvatarId(c: Conversation, meId: string): string {
  return c.type === 'group' ? c.id : otherMemberId(c, meId);
}

export function activeMembers(c: Conversation) {
  return c.members.filter((m) => m.state === 'active');
}

/** One line for the conversation list. */
export function previewOf(m: MessageView | undefined, meId: string, users: UserDirectory, group: boolean): string {
  if (!m) return '';
  const who = m.senderId === meId ? 'You: ' : group ? `${users.name(m.senderId)}: ` : '';
  if (m.kind === 'system') return systemText(m, meId, users);
  if (m.deleted) return `${who}This message was unsent`;
  if (m.unreadable) return `${who}Message could not be read`;
  if (m.forwarded && m.text) return `${who}↪ ${m.text.replace(/\s+/g, ' ')}`;
  const text = m.text ?? '';
  if (!text && m.attachmentIds.length) {
    const kind = m.attachments[0]?.kind;
    return `${who}${kind === 'voice' ? '🎤 Voice note' : kind === 'image' ? '📷 Photo' : kind === 'video' ? '🎬 Video' : '📎 Attachment'}`;
  }
  return `${who}${text.replace(/\s+/g, ' ')}`;
}

/** A system event as a sentence; unknown events still read sensibly. */
export function systemText(m: MessageView, meId: string, users: UserDirectory): string {
  const c = m.content?.type === 'system' ? m.content : null;
  if (!c) return 'Conversation updated';
  const actor = c.actorId ? (c.actorId === meId ? 'You' : users.name(c.actorId)) : 'Someone';
  const data = c.data as Record<string, unknown>;
  const target = typeof data.userId === 'string' ? (data.userId === meId ? 'you' : users.name(data.userId)) : null;
  const targets = Array.isArray(data.userIds) ? (data.userIds as unknown[]).filter((x): x is string => typeof x === 'string').map((id) => (id === meId ? 'you' : users.name(id))) : null;
  switch (c.event) {
    case 'title_changed':
      return `${actor} renamed the group to “${String(data.title ?? '')}”`;
    case 'description_changed':
      return data.description ? `${actor} changed the group’s description` : `${actor} removed the group’s description`;
    case 'avatar_changed':
      return data.attachmentId ? `${actor} changed the group’s picture` : `${actor} removed the group’s picture`;
    case 'info_policy_changed':
      return data.infoEditableBy === 'members' ? `${actor} let all members change the group’s info` : `${actor} let only admins change the group’s info`;
    case 'members_added':
      return `${actor} added ${targets?.join(', ') || 'someone'}`;
    case 'member_removed':
      return `${actor} removed ${target ?? 'someone'}`;
    case 'member_left': {
      const heir = typeof data.newOwnerId === 'string' ? (data.newOwnerId === meId ? 'you are' : `${users.name(data.newOwnerId)} is`) : null;
      return `${target ? target.replace(/^you$/, 'You') : actor} left${heir ? `; ${heir} now the owner` : ''}`;
    }
    case 'member_joined':
      return `${target ? target.replace(/^you$/, 'You') : actor} joined with an invite link`;
    case 'role_changed':
      return `${actor} made ${target ?? 'someone'} ${data.role === 'admin' ? 'an admin' : data.role === 'owner' ? 'the owner' : 'a member'}`;
    case 'owner_changed':
      return `${actor} made ${target ?? 'someone'} the owner`;
    case 'disappearing_changed': {
      const s = Number(data.seconds ?? 0);
      return s > 0 ? `${actor} set messages to disappear after ${durationText(s)}` : `${actor} turned off disappearing messages`;
    }
    case 'message_pinned':
    case 'pinned':
      return `${actor} pinned a message`;
    case 'message_unpinned':
    case 'unpinned':
      return `${actor} unpinned a message`;
    default:
      return `${actor} updated the conversation`;
  }
}

export function durationText(seconds: number): string {
  if (seconds % 86_400 === 0) {
    const d = seconds / 86_400;
    if (d === 7) return '1 week';
    if (d === 90) return '90 days';
    return d === 1 ? '1 day' : `${d} days`;
  }
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  return `${Math.round(seconds / 60)} minutes`;
}
