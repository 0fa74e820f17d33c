import { useState, useSyncExternalStore, type FormEvent } from 'react';
import { DISAPPEARING_CHOICES, LIMITS } from '@parley/protocol';
import type { Conversation, Member, User } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { conversationAvatarId, conversationName, durationText, otherMemberId } from '../lib/conversations.ts';
import { describeError } from '../lib/errors.ts';
import { togglePinned, usePinned } from '../lib/prefs.ts';
import { navigate } from '../lib/router.ts';
import { useDirectory } from '../lib/users.ts';
import { Avatar } from '../ui/avatar.tsx';
import { IconClose } from '../ui/icons.tsx';
import { Modal } from '../ui/modal.tsx';
import { PeoplePicker } from '../ui/people-picker.tsx';
import { notAddedText } from './new-group.tsx';

const countMembers = (n: number) => `${n} member${n === 1 ? '' : 's'}`;

const ROLE_RANK = { owner: 0, admin: 1, member: 2 } as const;

/** Details and administration of a conversation: people, roles, timer, mute, pin, leave or block. */
export function ConversationInfo({ c, onClose }: { c: Conversation; onClose: () => void }) {
  const { client, me, users, toast } = useApp();
  const dir = useDirectory(users);
  const pinned = usePinned().includes(c.id);
  const [adding, setAdding] = useState(false);
  const [invite, setInvite] = useState<string | null>(null);
  const myRole = c.members.find((m) => m.userId === me.id)?.role ?? 'member';
  const isAdmin = myRole === 'owner' || myRole === 'admin';
  const name = conversationName(c, me.id, dir);
  const other = c.type === 'direct' ? otherMemberId(c, me.id) : null;
  const otherUser = other ? dir.get(other) : null;

  const run = async (fn: () => Promise<unknown>, done?: string) => {
    try {
      await fn();
      if (done) toast(done);
    } catch (err) {
      toast(describeError(err));
    }
  };
  const refresh = async () => client.store.upsertConversation(await client.conversations.get(c.id));

  const members = c.members.filter((m) => m.state !== 'declined').sort((a, b) => ROLE_RANK[a.role] - ROLE_RANK[b.role] || dir.name(a.userId).localeCompare(dir.name(b.userId)));

  return (
    <aside className="info-panel" aria-labelledby="info-title">
      <header>
        <h2 id="info-title">{c.type === 'group' ? 'Group info' : 'Contact info'}</h2>
        <button type="button" className="icon-btn" aria-label="Close info" onClick={onClose}>
          <IconClose />
        </button>
      </header>
      <div className="info-hero">
        <Avatar id={conversationAvatarId(c, me.id)} name={name} size="l" />
        <strong>{name}</strong>
        {otherUser && <span className="info-sub">@{otherUser.username}</span>}
        {otherUser?.bio && <p>{otherUser.bio}</p>}
      </div>
      {c.type === 'group' && isAdmin && <TitleForm c={c} />}
      <div className="info-section">
        <label className="check">
          <input type="checkbox" checked={c.muted} onChange={(e) => void run(async () => (await client.conversations.settings(c.id, { muted: e.target.checked }), await refresh()))} />
          <span>Mute notifications</span>
        </label>
        <label className="check">
          <input type="checkbox" checked={pinned} onChange={() => togglePinned(c.id)} />
          <span>Pin to the top of Chats</span>
        </label>
        <div className="field">
          <label htmlFor="info-timer">Disappearing messages</label>
          <select
            id="info-timer"
            className="input"
            value={c.disappearingSeconds}
            disabled={c.type === 'group' && !isAdmin}
            onChange={(e) => void run(async () => client.store.upsertConversation(await client.conversations.update(c.id, { disappearingSeconds: Number(e.target.value) })))}
          >
            {DISAPPEARING_CHOICES.map((s) => (
              <option key={s} value={s}>
                {s === 0 ? 'Off' : durationText(s)}
              </option>
            ))}
          </select>
          <small>New messages disappear for everyone after this time.</small>
        </div>
      </div>
      {c.type === 'group' && (
        <div className="info-section">
          <div className="row">
            <h3 className="grow">{countMembers(members.filter((m) => m.state === 'active').length)}</h3>
            {isAdmin && (
              <button type="button" className="btn btn-small" onClick={() => setAdding(true)}>
                Add people
              </button>
            )}
          </div>
          <ul className="member-list" aria-label="Members">
            {members.map((m) => (
              <MemberRow key={m.userId} c={c} m={m} myRole={myRole} run={run} refresh={refresh} />
            ))}
          </ul>
          {isAdmin && (
            <div className="field">
              <button type="button" className="btn btn-small" onClick={() => void run(async () => setInvite((await client.invites.create(c.id)).token))}>
                Create invite link
              </button>
              {invite && (
                <input className="input" readOnly aria-label="Invite link" value={`${window.location.origin}/join/${encodeURIComponent(invite)}`} onFocus={(e) => e.target.select()} />
              )}
            </div>
          )}
        </div>
      )}
      <div className="info-section">
        {c.type === 'group' ? (
          <button
            type="button"
            className="btn btn-danger"
            onClick={() =>
              window.confirm('Leave this group?') &&
              void run(async () => {
                await client.members.remove(c.id, me.id);
                client.store.removeConversation(c.id);
                navigate({ name: 'inbox' });
              }, 'You left the group.')
            }
          >
            Leave group
          </button>
        ) : (
          other && <BlockButton userId={other} name={name} />
        )}
      </div>
      {adding && <AddMembers c={c} onClose={() => setAdding(false)} />}
    </aside>
  );
}

function TitleForm({ c }: { c: Conversation }) {
  const { client, toast } = useApp();
  const [title, setTitle] = useState(c.title ?? '');
  const save = async (e: FormEvent) => {
    e.preventDefault();
    try {
      client.store.upsertConversation(await client.conversations.update(c.id, { title: title.trim() }));
      toast('Group renamed.');
    } catch (err) {
      toast(describeError(err));
    }
  };
  return (
    <form className="info-section" onSubmit={save}>
      <div className="field">
        <label htmlFor="info-title-input">Group name</label>
        <input id="info-title-input" className="input" maxLength={LIMITS.titleMax} value={title} onChange={(e) => setTitle(e.target.value)} />
      </div>
      <button type="submit" className="btn btn-small" disabled={!title.trim() || title.trim() === c.title}>
        Rename
      </button>
    </form>
  );
}

function MemberRow({ c, m, myRole, run, refresh }: { c: Conversation; m: Member; myRole: Member['role']; run: (fn: () => Promise<unknown>, done?: string) => Promise<void>; refresh: () => Promise<void> }) {
  const { client, me, users } = useApp();
  const name = users.name(m.userId);
  const user = users.get(m.userId);
  const mayManage = m.userId !== me.id && (myRole === 'owner' || (myRole === 'admin' && m.role === 'member'));
  return (
    <li className="member">
      <Avatar id={m.userId} name={name} size="s" />
      <span className="name">
        <strong>{m.userId === me.id ? `${name} (you)` : name}</strong>
        <span>{m.state === 'request' ? 'invited' : user ? `@${user.username}` : ''}</span>
      </span>
      {m.role !== 'member' && <span className="role-tag">{m.role}</span>}
      {mayManage && (
        <>
          <button
            type="button"
            className="btn btn-ghost btn-small"
            onClick={() => void run(async () => (await client.members.setRole(c.id, m.userId, m.role === 'admin' ? 'member' : 'admin'), await refresh()))}
          >
            {m.role === 'admin' ? 'Make member' : 'Make admin'}
            <span className="visually-hidden"> {name}</span>
          </button>
          <button type="button" className="icon-btn" aria-label={`Remove ${name} from the group`} onClick={() => void run(async () => (await client.members.remove(c.id, m.userId), await refresh()), `${name} was removed.`)}>
            <IconClose />
          </button>
        </>
      )}
    </li>
  );
}

function AddMembers({ c, onClose }: { c: Conversation; onClose: () => void }) {
  const { client, toast } = useApp();
  const [picked, setPicked] = useState<User[]>([]);
  const add = async () => {
    try {
      const { notAdded, ...conversation } = await client.members.add(
        c.id,
        picked.map((u) => u.id),
      );
      client.store.upsertConversation(conversation as Conversation);
      toast(notAddedText(notAdded, picked) ?? 'Added.');
      onClose();
    } catch (err) {
      toast(describeError(err));
    }
  };
  return (
    <Modal title="Add people" onClose={onClose}>
      <PeoplePicker picked={picked} onChange={setPicked} exclude={c.members.filter((m) => m.state === 'active').map((m) => m.userId)} />
      <div className="modal-actions">
        <button type="button" className="btn btn-ghost" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="btn btn-primary" disabled={!picked.length} onClick={() => void add()}>
          Add
        </button>
      </div>
    </Modal>
  );
}

function BlockButton({ userId, name }: { userId: string; name: string }) {
  const { client, toast } = useApp();
  const blocked = useDirectoryBlocked(userId);
  return (
    <button
      type="button"
      className={blocked ? 'btn' : 'btn btn-danger'}
      onClick={async () => {
        try {
          if (blocked) await client.blocks.remove(userId);
          else if (window.confirm(`Block ${name}? They won’t be able to message you or see your profile.`)) await client.blocks.add(userId);
          else return;
          toast(blocked ? `${name} is unblocked.` : `${name} is blocked.`);
        } catch (err) {
          toast(describeError(err));
        }
      }}
    >
      {blocked ? `Unblock ${name}` : `Block ${name}`}
    </button>
  );
}

function useDirectoryBlocked(userId: string): boolean {
  const { client } = useApp();
  return useSyncExternalStore(client.store.subscribe, client.store.getSnapshot).blocked.has(userId);
}
