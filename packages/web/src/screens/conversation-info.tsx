import { useEffect, useRef, useState, useSyncExternalStore, type FormEvent } from 'react';
import { DISAPPEARING_CHOICES, LIMITS } from '@parley/protocol';
import { isMutedNow, type Conversation, type Invite, type Member, type User } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { uploadAttachment } from '../lib/attachments.ts';
import { conversationName, durationText, otherMemberId } from '../lib/conversations.ts';
import { describeError } from '../lib/errors.ts';
import { makeThumbnail } from '../lib/images.ts';
import { navigate } from '../lib/router.ts';
import { formatDateTime } from '../lib/time.ts';
import { useDirectory } from '../lib/users.ts';
import { Avatar } from '../ui/avatar.tsx';
import { ConversationAvatar } from '../ui/conversation-avatar.tsx';
import { IconClose } from '../ui/icons.tsx';
import { Modal } from '../ui/modal.tsx';
import { PeoplePicker } from '../ui/people-picker.tsx';
import { notAddedText } from './new-group.tsx';

const countMembers = (n: number) => `${n} member${n === 1 ? '' : 's'}`;

const ROLE_RANK = { owner: 0, admin: 1, member: 2 } as const;

const MUTE_CHOICES = [
  ['3600', 'For 1 hour'],
  ['28800', 'For 8 hours'],
  ['604800', 'For 1 week'],
  ['always', 'Until I turn it back on'],
] as const;

/** Details and administration of a conversation: people, roles, info, timer, mute, pin, archive, links, leave or block. */
export function ConversationInfo({ c, onClose }: { c: Conversation; onClose: () => void }) {
  const { client, me, users, toast } = useApp();
  const dir = useDirectory(users);
  const [adding, setAdding] = useState(false);
  // The pin switch answers the click at once; the server's answer confirms it (or puts it back).
  const [pinned, setPinned] = useState(c.pinned);
  useEffect(() => setPinned(c.pinned), [c.pinned]);
  const myRole = c.members.find((m) => m.userId === me.id)?.role ?? 'member';
  const isAdmin = myRole === 'owner' || myRole === 'admin';
  const mayEditInfo = c.type === 'group' && c.myState === 'active' && (isAdmin || c.infoEditableBy === 'members');
  const muted = isMutedNow(c);
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
        <ConversationAvatar c={c} name={name} size="l" />
        <strong>{name}</strong>
        {otherUser && <span className="info-sub">@{otherUser.username}</span>}
        {otherUser?.bio && <p>{otherUser.bio}</p>}
        {c.type === 'group' && c.description && <p className="info-description">{c.description}</p>}
      </div>
      {mayEditInfo && <GroupInfoForm c={c} isAdmin={isAdmin} />}
      <div className="info-section">
        <div className="field">
          <label htmlFor="info-mute">Mute notifications</label>
          <select
            id="info-mute"
            className="input"
            value={!muted ? 'off' : c.mutedUntil ? 'until' : 'always'}
            onChange={(e) => {
              const v = e.target.value;
              if (v === 'until') return;
              void run(async () =>
                client.store.upsertConversation(
                  v === 'off' ? await client.conversations.unmute(c.id) : await client.conversations.mute(c.id, v === 'always' ? null : new Date(Date.now() + Number(v) * 1000)),
                ),
              );
            }}
          >
            <option value="off">Off</option>
            {muted && c.mutedUntil && <option value="until">Until {formatDateTime(c.mutedUntil)}</option>}
            {MUTE_CHOICES.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <label className="check">
          <input
            type="checkbox"
            checked={pinned}
            disabled={c.myState !== 'active'}
            onChange={(e) => {
              const want = e.target.checked;
              setPinned(want);
              void run(async () => {
                try {
                  client.store.upsertConversation(await client.conversations.pin(c.id, want));
                } catch (err) {
                  setPinned(c.pinned);
                  throw err;
                }
              });
            }}
          />
          <span>Pin to the top of Chats</span>
        </label>
        {c.myState === 'active' && (
          <button
            type="button"
            className="btn btn-small"
            onClick={() =>
              void run(async () => {
                client.store.upsertConversation(await client.conversations.archive(c.id, !c.archived));
                if (!c.archived) navigate({ name: 'inbox' });
              }, c.archived ? 'Moved back to Chats.' : 'Archived. A new message brings it back to Chats.')
            }
          >
            {c.archived ? 'Unarchive' : 'Archive'}
          </button>
        )}
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
          {isAdmin && <InviteLinks c={c} />}
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

/** The group's name, description and picture (whoever may edit them), and who may (admins). */
function GroupInfoForm({ c, isAdmin }: { c: Conversation; isAdmin: boolean }) {
  const { client, toast } = useApp();
  const [title, setTitle] = useState(c.title ?? '');
  const [description, setDescription] = useState(c.description);
  const [busy, setBusy] = useState(false);
  const picture = useRef<HTMLInputElement>(null);
  // Someone else changed it meanwhile: show theirs.
  useEffect(() => setTitle(c.title ?? ''), [c.title]);
  useEffect(() => setDescription(c.description), [c.description]);
  const changed = (title.trim() && title.trim() !== c.title) || description.trim() !== c.description;
  const update = async (patch: Parameters<typeof client.conversations.update>[1], done: string) => {
    setBusy(true);
    try {
      client.store.upsertConversation(await client.conversations.update(c.id, patch));
      toast(done);
    } catch (err) {
      toast(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    const patch: { title?: string; description?: string } = {};
    if (title.trim() && title.trim() !== c.title) patch.title = title.trim();
    if (description.trim() !== c.description) patch.description = description.trim();
    void update(patch, 'Group info saved.');
  };
  const setPicture = async (file: File | undefined) => {
    if (!file) return;
    // A square-ish 512 px copy made here: the group's picture is small wherever it shows.
    const small = await makeThumbnail(file, 512);
    if (!small) return toast('That picture could not be read.');
    setBusy(true);
    try {
      const uploaded = await uploadAttachment(client, new File([small.blob], 'group.jpg', { type: 'image/jpeg' }));
      await update({ avatarAttachmentId: uploaded.id }, 'Group picture changed.');
    } catch (err) {
      toast(describeError(err));
      setBusy(false);
    }
    if (picture.current) picture.current.value = '';
  };
  return (
    <form className="info-section" onSubmit={save} aria-label="Group info">
      <div className="field">
        <label htmlFor="info-title-input">Group name</label>
        <input id="info-title-input" className="input" maxLength={LIMITS.titleMax} value={title} onChange={(e) => setTitle(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="info-description">Description</label>
        <textarea id="info-description" className="input" rows={2} maxLength={LIMITS.descriptionMax} value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      <div className="row">
        <button type="submit" className="btn btn-small" disabled={busy || !changed}>
          Save
        </button>
        <button type="button" className="btn btn-small" disabled={busy} onClick={() => picture.current?.click()}>
          {c.avatarAttachmentId ? 'Change picture' : 'Add picture'}
        </button>
        {c.avatarAttachmentId && (
          <button type="button" className="btn btn-ghost btn-small" disabled={busy} onClick={() => void update({ avatarAttachmentId: null }, 'Group picture removed.')}>
            Remove picture
          </button>
        )}
        <input ref={picture} type="file" accept="image/png,image/jpeg,image/gif,image/webp" hidden aria-label="Group picture" onChange={(e) => void setPicture(e.target.files?.[0])} />
      </div>
      {isAdmin && (
        <div className="field">
          <label htmlFor="info-policy">Who can change the group’s info</label>
          <select
            id="info-policy"
            className="input"
            value={c.infoEditableBy}
            disabled={busy}
            onChange={(e) => void update({ infoEditableBy: e.target.value as Conversation['infoEditableBy'] }, 'Saved.')}
          >
            <option value="admins">Only admins</option>
            <option value="members">All members</option>
          </select>
        </div>
      )}
    </form>
  );
}

/** Invite links: create one (its link is shown only now), and see and revoke those that still work. */
function InviteLinks({ c }: { c: Conversation }) {
  const { client, toast, users } = useApp();
  const [fresh, setFresh] = useState<{ id: string; token: string } | null>(null);
  const [links, setLinks] = useState<Invite[]>([]);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    client.invites.list(c.id).then(
      (l) => live && setLinks(l),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, c.id, n]);
  const act = async (fn: () => Promise<unknown>, done?: string) => {
    try {
      await fn();
      if (done) toast(done);
    } catch (err) {
      toast(describeError(err));
    }
    setN((x) => x + 1);
  };
  return (
    <div className="field">
      <button type="button" className="btn btn-small" onClick={() => void act(async () => setFresh(await client.invites.create(c.id)))}>
        Create invite link
      </button>
      {fresh && <input className="input" readOnly aria-label="Invite link" value={`${window.location.origin}/join/${encodeURIComponent(fresh.token)}`} onFocus={(e) => e.target.select()} />}
      {links.length > 0 && (
        <ul className="rows" aria-label="Invite links">
          {links.map((l, i) => (
            <li key={l.id}>
              <div className="grow">
                <strong>{l.id === fresh?.id ? 'The link above' : `Link ${links.length - i}`}</strong>
                <span>
                  by {users.name(l.createdBy)}, {formatDateTime(l.createdAt)}
                </span>
              </div>
              <button
                type="button"
                className="btn btn-small"
                onClick={() =>
                  void act(async () => {
                    await client.invites.revoke(c.id, l.id);
                    if (l.id === fresh?.id) setFresh(null);
                  }, 'Invite link revoked.')
                }
              >
                Revoke<span className="visually-hidden"> link {links.length - i}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
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
          {myRole === 'owner' && m.state === 'active' && (
            <button
              type="button"
              className="btn btn-ghost btn-small"
              onClick={() =>
                window.confirm(`Make ${name} the owner? You will become an admin.`) &&
                void run(async () => (await client.members.transferOwnership(c.id, m.userId), await refresh()), `${name} is now the owner.`)
              }
            >
              Make owner<span className="visually-hidden"> {name}</span>
            </button>
          )}
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
