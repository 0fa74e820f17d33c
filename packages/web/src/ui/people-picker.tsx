import { useEffect, useState } from 'react';
import type { User } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { Avatar } from './avatar.tsx';
import { IconClose } from './icons.tsx';

/** Pick several people by searching; connections are offered before anyone types. */
export function PeoplePicker({ picked, onChange, exclude = [] }: { picked: User[]; onChange: (users: User[]) => void; exclude?: string[] }) {
  const { client, me, users } = useApp();
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<User[]>([]);
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => {
      const q = query.trim();
      const load = q ? client.users.search(q, 20) : client.connections.list({ state: 'connected', limit: 200 }).then((cs) => cs.connections.map((c) => c.user));
      load.then(
        (list) => {
          if (!live) return;
          for (const u of list) users.put(u);
          setFound(list.filter((u) => u.id !== me.id && !exclude.includes(u.id)));
        },
        () => live && setFound([]),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [client, users, me.id, query, exclude]);
  const has = (u: User) => picked.some((p) => p.id === u.id);
  const toggle = (u: User) => onChange(has(u) ? picked.filter((p) => p.id !== u.id) : [...picked, u]);
  return (
    <div className="field">
      {picked.length > 0 && (
        <div className="chips" aria-label="Chosen people">
          {picked.map((u) => (
            <span key={u.id} className="chip">
              {u.displayName || u.username}
              <button type="button" className="icon-btn" aria-label={`Remove ${u.displayName || u.username}`} onClick={() => toggle(u)}>
                <IconClose />
              </button>
            </span>
          ))}
        </div>
      )}
      <label htmlFor="picker-search">Add people</label>
      <input id="picker-search" className="input" type="search" placeholder="Search by name or username" value={query} onChange={(e) => setQuery(e.target.value)} autoComplete="off" />
      <ul className="pick-list" aria-label={query.trim() ? 'People found' : 'Your connections'}>
        {found.map((u) => {
          const name = u.displayName || u.username;
          return (
            <li key={u.id}>
              <label>
                <input type="checkbox" checked={has(u)} onChange={() => toggle(u)} />
                <Avatar id={u.id} name={name} size="s" />
                <span className="name">
                  <strong>{name}</strong>
                  <span>@{u.username}</span>
                </span>
              </label>
            </li>
          );
        })}
        {found.length === 0 && <li className="conv-time">{query.trim() ? 'No one found.' : 'Search for people to add.'}</li>}
      </ul>
    </div>
  );
}
