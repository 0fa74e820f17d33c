import { useEffect, useState, useSyncExternalStore } from 'react';
import { isMutedNow, type Connection, type Conversation, type Snapshot, type User } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { conversationName, previewOf } from '../lib/conversations.ts';
import { describeError } from '../lib/errors.ts';
import { navigate } from '../lib/router.ts';
import { formatListTime } from '../lib/time.ts';
import { useDirectory } from '../lib/users.ts';
import { Avatar } from '../ui/avatar.tsx';
import { ConversationAvatar } from '../ui/conversation-avatar.tsx';
import { BrandMark, IconGroup, IconLogout, IconMute, IconPin, IconSearch, IconSettings } from '../ui/icons.tsx';
import { ThemeToggle } from '../ui/theme-toggle.tsx';
import { NewGroupDialog } from './new-group.tsx';

type Folder = 'inbox' | 'requests' | 'archived';

const FOLDER_NAMES: Record<Folder, string> = { inbox: 'Chats', requests: 'Requests', archived: 'Archived' };

export function Sidebar({ folder, activeId, snapshot }: { folder: Folder; activeId: string | null; snapshot: Snapshot }) {
  const { me, signOut } = useApp();
  const [query, setQuery] = useState('');
  const [groupOpen, setGroupOpen] = useState(false);
  const incoming = useIncomingConnections();
  const { requests, archived } = snapshot;

  const shown = folder === 'inbox' ? snapshot.inbox : folder === 'requests' ? requests : archived;
  const requestCount = requests.length + incoming.list.length;

  return (
    <aside className="sidebar" aria-label="Conversations">
      <div className="sidebar-head">
        <div className="brand">
          <BrandMark className="brand-mark" />
          <h1>Parley</h1>
        </div>
        <button type="button" className="icon-btn" aria-label="New group" title="New group" onClick={() => setGroupOpen(true)}>
          <IconGroup />
        </button>
        <ThemeToggle />
      </div>
      <div className="sidebar-search" role="search">
        <IconSearch />
        <label htmlFor="people-search" className="visually-hidden">
          Search people
        </label>
        <input id="people-search" className="input" type="search" placeholder="Search people" autoComplete="off" value={query} onChange={(e) => setQuery(e.target.value)} onKeyDown={(e) => e.key === 'Escape' && setQuery('')} />
      </div>
      {query.trim() ? (
        <PeopleResults query={query.trim()} onDone={() => setQuery('')} />
      ) : (
        <>
          <div className="tabs" role="tablist" aria-label="Folders">
            <button type="button" role="tab" className="tab" aria-selected={folder === 'inbox'} onClick={() => navigate({ name: 'inbox' })}>
              Chats
            </button>
            <button type="button" role="tab" className="tab" aria-selected={folder === 'requests'} onClick={() => navigate({ name: 'requests' })}>
              Requests
              {requestCount > 0 && (
                <span className="badge" aria-label={`${requestCount} waiting`}>
                  {requestCount}
                </span>
              )}
            </button>
            {(archived.length > 0 || folder === 'archived') && (
              <button type="button" role="tab" className="tab" aria-selected={folder === 'archived'} onClick={() => navigate({ name: 'archived' })}>
                Archived
              </button>
            )}
          </div>
          <div className="list-scroll" role="tabpanel" aria-label={FOLDER_NAMES[folder]}>
            {folder === 'requests' && <ConnectionRequests incoming={incoming.list} reload={incoming.reload} />}
            {folder === 'requests' && requests.length > 0 && <div className="section-label">Message requests</div>}
            {shown.length > 0 ? (
              <ul className="conv-list">
                {shown.map((c) => (
                  <li key={c.id}>
                    <ConversationItem c={c} active={c.id === activeId} />
                  </li>
                ))}
              </ul>
            ) : folder === 'inbox' ? (
              <div className="empty">
                <p>{archived.length ? 'No conversations here.' : 'No conversations yet.'}</p>
                <p>Search for people above to start one.</p>
              </div>
            ) : folder === 'archived' ? (
              <div className="empty">
                <p>No archived conversations.</p>
                <p>Archive a conversation from its info panel to keep it out of Chats; a new message brings it back.</p>
              </div>
            ) : (
              incoming.list.length === 0 && (
                <div className="empty">
                  <p>No requests.</p>
                  <p>Messages from people you’re not connected with wait here until you answer.</p>
                </div>
              )
            )}
          </div>
        </>
      )}
      <div className="sidebar-foot">
        <Avatar id={me.id} name={me.displayName || me.username} size="s" />
        <div className="who">
          <strong>{me.displayName || me.username}</strong>
          <span>@{me.username}</span>
        </div>
        <button type="button" className="icon-btn" aria-label="Settings" title="Settings" onClick={() => navigate({ name: 'settings' })}>
          <IconSettings />
        </button>
        <button type="button" className="icon-btn" aria-label="Sign out" title="Sign out" onClick={() => void signOut()}>
          <IconLogout />
        </button>
      </div>
      {groupOpen && <NewGroupDialog onClose={() => setGroupOpen(false)} />}
    </aside>
  );
}

function ConversationItem({ c, active }: { c: Conversation; active: boolean }) {
  const { client, me, users } = useApp();
  const dir = useDirectory(users);
  const messages = useSyncExternalStore(client.store.subscribe, () => client.store.getMessages(c.id));
  const mentioned = useSyncExternalStore(client.store.subscribe, () => client.store.unreadMentions(c.id)) > 0 && !active;
  const last = messages[messages.length - 1];
  const name = conversationName(c, me.id, dir);
  const unread = active ? 0 : c.unreadCount;
  const pinned = c.pinned;
  const muted = isMutedNow(c);
  const when = last?.createdAt ?? c.updatedAt;
  return (
    <a
      href={`/c/${encodeURIComponent(c.id)}`}
      className={`conv-item${unread ? ' unread' : ''}`}
      aria-current={active ? 'page' : undefined}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate({ name: 'conversation', id: c.id });
      }}
    >
      <ConversationAvatar c={c} name={name} />
      <span className="conv-main">
        <span className="conv-top">
          <span className="conv-name">{name}</span>
          <span className="conv-time">{formatListTime(when)}</span>
        </span>
        <span className="conv-bottom">
          <span className="conv-preview">{previewOf(last, me.id, dir, c.type === 'group') || (c.myState === 'request' ? 'Wants to send you a message' : ' ')}</span>
          {pinned && <IconPin className="state-icon" />}
          {pinned && <span className="visually-hidden">, pinned</span>}
          {muted && <IconMute className="state-icon" />}
          {muted && <span className="visually-hidden">, muted</span>}
          {mentioned && (
            <span className="badge" title="You were mentioned">
              @<span className="visually-hidden"> you were mentioned</span>
            </span>
          )}
          {unread > 0 && (
            <span className={muted ? 'badge badge-muted' : 'badge'}>
              {unread > 99 ? '99+' : unread}
              <span className="visually-hidden"> unread</span>
            </span>
          )}
        </span>
      </span>
    </a>
  );
}

function useIncomingConnections(): { list: Connection[]; reload: () => void } {
  const { client } = useApp();
  const [list, setList] = useState<Connection[]>([]);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    const load = () => client.connections.list({ state: 'incoming' }).then((l) => live && setList(l.connections), () => undefined);
    load();
    // Connection requests have no socket event: refresh when the tab regains focus and now and then.
    const t = setInterval(load, 30_000);
    window.addEventListener('focus', load);
    return () => {
      live = false;
      clearInterval(t);
      window.removeEventListener('focus', load);
    };
  }, [client, n]);
  return { list, reload: () => setN((x) => x + 1) };
}

function ConnectionRequests({ incoming, reload }: { incoming: Connection[]; reload: () => void }) {
  const { client, toast } = useApp();
  if (!incoming.length) return null;
  const act = async (fn: () => Promise<unknown>, done: string) => {
    try {
      await fn();
      toast(done);
    } catch (err) {
      toast(describeError(err));
    }
    reload();
  };
  return (
    <>
      <div className="section-label">Connection requests</div>
      <ul className="conv-list" aria-label="Connection requests">
        {incoming.map((c) => {
          const name = c.user.displayName || c.user.username;
          return (
            <li key={c.user.id} className="conv-item">
              <Avatar id={c.user.id} name={name} />
              <span className="conv-main">
                <span className="conv-name">{name}</span>
                <span className="conv-preview">@{c.user.username} wants to connect</span>
                <span className="row">
                  <button type="button" className="btn btn-primary btn-small" onClick={() => void act(() => client.connections.accept(c.user.id), `You are now connected with ${name}.`)}>
                    Accept<span className="visually-hidden"> {name}</span>
                  </button>
                  <button type="button" className="btn btn-small" onClick={() => void act(() => client.connections.remove(c.user.id), `Declined ${name}.`)}>
                    Decline<span className="visually-hidden"> {name}</span>
                  </button>
                </span>
              </span>
            </li>
          );
        })}
      </ul>
    </>
  );
}

function PeopleResults({ query, onDone }: { query: string; onDone: () => void }) {
  const { client, me, users, toast } = useApp();
  const [results, setResults] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => {
      client.users.search(query, 20).then(
        (found) => {
          if (!live) return;
          for (const u of found) users.put(u);
          setResults(found.filter((u) => u.id !== me.id));
          setError(null);
        },
        (err) => live && setError(describeError(err)),
      );
    }, 200);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [client, users, me.id, query]);

  const message = async (u: User) => {
    try {
      const c = await client.openDirect(u.id);
      onDone();
      navigate({ name: 'conversation', id: c.id });
    } catch (err) {
      toast(describeError(err));
    }
  };
  const connect = async (u: User) => {
    try {
      const r = await client.connections.request(u.id);
      toast(r.state === 'connected' ? `You are now connected with ${u.displayName || u.username}.` : `Connection request sent to ${u.displayName || u.username}.`);
    } catch (err) {
      toast(describeError(err));
    }
  };

  return (
    <div className="list-scroll" aria-live="polite">
      <div className="section-label">People</div>
      {error && <p className="form-error">{error}</p>}
      {results === null ? (
        <div className="empty">
          <div className="spinner" />
        </div>
      ) : results.length === 0 ? (
        <div className="empty">No one found for “{query}”.</div>
      ) : (
        <ul className="conv-list" aria-label="People found">
          {results.map((u) => {
            const name = u.displayName || u.username;
            return (
              <li key={u.id} className="conv-item">
                <Avatar id={u.id} name={name} />
                <span className="conv-main">
                  <span className="conv-name">{name}</span>
                  <span className="conv-preview">@{u.username}</span>
                </span>
                <button type="button" className="btn btn-small" onClick={() => void connect(u)} aria-label={`Connect with ${name}`}>
                  Connect
                </button>
                <button type="button" className="btn btn-primary btn-small" onClick={() => void message(u)} aria-label={`Message ${name}`}>
                  Message
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
