import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { LIMITS } from '@parley/protocol';
import type { Block, Connection, PrivacySettings, Session } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { describeError } from '../lib/errors.ts';
import { navigate } from '../lib/router.ts';
import { useTheme, type ThemeChoice } from '../lib/theme.ts';
import { Avatar } from '../ui/avatar.tsx';
import { IconBack } from '../ui/icons.tsx';
import { formatDateTime } from '../lib/time.ts';

export function SettingsScreen() {
  return (
    <section className="settings" aria-labelledby="settings-title">
      <header className="settings-head">
        <button type="button" className="icon-btn back-btn" aria-label="Back to conversations" onClick={() => navigate({ name: 'inbox' })}>
          <IconBack />
        </button>
        <h1 id="settings-title">Settings</h1>
      </header>
      <div className="settings-body">
        <ProfileCard />
        <AppearanceCard />
        <PrivacyCard />
        <ConnectionsCard />
        <BlockedCard />
        <DevicesCard />
        <PasswordCard />
        <DataCard />
      </div>
    </section>
  );
}

function Card({ title, id, children, className }: { title: string; id: string; children: ReactNode; className?: string }) {
  return (
    <section className={`card ${className ?? ''}`} aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function useAsync<T>(load: () => Promise<T>): { data: T | undefined; error: string | null; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setError(null)),
      (e) => live && setError(describeError(e)),
    );
    return () => {
      live = false;
    };
  }, [n]);
  return { data, error, reload: useCallback(() => setN((x) => x + 1), []) };
}

function ProfileCard() {
  const { client, me, setMe } = useApp();
  const [displayName, setDisplayName] = useState(me.displayName);
  const [bio, setBio] = useState(me.bio);
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    try {
      setMe(await client.me.update({ displayName: displayName.trim() || undefined, bio }));
      setStatus({ ok: true, text: 'Saved.' });
    } catch (err) {
      setStatus({ ok: false, text: describeError(err) });
    }
  };
  return (
    <Card title="Profile" id="set-profile">
      <div className="row">
        <Avatar id={me.id} name={me.displayName || me.username} size="l" />
        <div className="grow">
          <strong>{me.displayName || me.username}</strong>
          <div className="conv-time">@{me.username}</div>
        </div>
      </div>
      <form onSubmit={save}>
        <div className="field">
          <label htmlFor="set-display">Display name</label>
          <input id="set-display" className="input" maxLength={LIMITS.displayNameMax} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="set-bio">About</label>
          <textarea id="set-bio" className="input" rows={2} maxLength={LIMITS.bioMax} value={bio} onChange={(e) => setBio(e.target.value)} />
        </div>
        <div className="row">
          <button className="btn btn-primary" type="submit">
            Save profile
          </button>
          {status && (
            <span role="status" className={status.ok ? 'form-ok' : 'form-error'}>
              {status.text}
            </span>
          )}
        </div>
      </form>
    </Card>
  );
}

function AppearanceCard() {
  const [choice, setChoice] = useTheme();
  return (
    <Card title="Appearance" id="set-appearance">
      <div className="field">
        <label htmlFor="set-theme">Theme</label>
        <select id="set-theme" className="input" value={choice} onChange={(e) => setChoice(e.target.value as ThemeChoice)}>
          <option value="system">Same as the system</option>
          <option value="light">Light</option>
          <option value="dark">Dark</option>
        </select>
      </div>
      <NotificationsToggle />
    </Card>
  );
}

function NotificationsToggle() {
  const supported = typeof Notification !== 'undefined';
  const [perm, setPerm] = useState(supported ? Notification.permission : 'denied');
  if (!supported) return <p>This browser cannot show notifications.</p>;
  return (
    <div className="row">
      <div className="grow">
        <strong>Notifications</strong>
        <div className="conv-time">
          {perm === 'granted' ? 'On: you are told of new messages while Parley is in the background.' : perm === 'denied' ? 'Blocked in this browser’s site settings.' : 'Off.'}
        </div>
      </div>
      {perm === 'default' && (
        <button className="btn" type="button" onClick={() => void Notification.requestPermission().then(setPerm)}>
          Turn on
        </button>
      )}
    </div>
  );
}

const AUDIENCE = [
  ['everyone', 'Everyone'],
  ['connections', 'My connections'],
  ['nobody', 'Nobody'],
] as const;

function PrivacyCard() {
  const { client } = useApp();
  const { data, error } = useAsync(() => client.privacy.get());
  const [settings, setSettings] = useState<PrivacySettings | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const current = settings ?? data;
  const change = async (patch: Partial<PrivacySettings>) => {
    if (!current) return;
    setSettings({ ...current, ...patch });
    try {
      setSettings(await client.privacy.update(patch));
      setStatus('Saved.');
    } catch (err) {
      setSettings(current);
      setStatus(describeError(err));
    }
  };
  return (
    <Card title="Privacy" id="set-privacy">
      {error && <p className="form-error">{error}</p>}
      {current && (
        <>
          <div className="settings-grid">
            <AudienceSelect id="priv-message" label="Who can message me" value={current.whoCanMessage} onChange={(v) => change({ whoCanMessage: v })} />
            <AudienceSelect id="priv-groups" label="Who can add me to groups" value={current.whoCanAddToGroups} onChange={(v) => change({ whoCanAddToGroups: v })} />
            <AudienceSelect id="priv-presence" label="Who sees when I’m online" value={current.presence} onChange={(v) => change({ presence: v })} />
          </div>
          <label className="check">
            <input type="checkbox" checked={current.readReceipts} onChange={(e) => change({ readReceipts: e.target.checked })} />
            <span>
              Read receipts <small className="conv-time">(when off, you neither send nor see them)</small>
            </span>
          </label>
          <p className="conv-time">People who are not allowed to message you can still send a request when “Everyone” is chosen; it waits in Requests until you answer.</p>
          {status && <span role="status" className="visually-hidden">{status}</span>}
        </>
      )}
    </Card>
  );
}

function AudienceSelect({ id, label, value, onChange }: { id: string; label: string; value: string; onChange: (v: 'everyone' | 'connections' | 'nobody') => void }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} className="input" value={value} onChange={(e) => onChange(e.target.value as 'everyone')}>
        {AUDIENCE.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </div>
  );
}

function ConnectionsCard() {
  const { client, users } = useApp();
  const { data, error, reload } = useAsync(async () => {
    const list = async (state: 'connected' | 'incoming' | 'outgoing') => (await client.connections.list({ state, limit: 200 })).connections;
    const [connected, incoming, outgoing] = await Promise.all([list('connected'), list('incoming'), list('outgoing')]);
    for (const c of [...connected, ...incoming, ...outgoing]) users.put(c.user);
    return { connected, incoming, outgoing };
  });
  const [status, setStatus] = useState<string | null>(null);
  const act = async (fn: () => Promise<unknown>, done: string) => {
    try {
      await fn();
      setStatus(done);
      reload();
    } catch (err) {
      setStatus(describeError(err));
    }
  };
  const row = (c: Connection, actions: ReactNode) => (
    <li key={c.user.id}>
      <Avatar id={c.user.id} name={c.user.displayName || c.user.username} size="s" />
      <div className="grow">
        <strong>{c.user.displayName || c.user.username}</strong>
        <span>@{c.user.username}</span>
      </div>
      {actions}
    </li>
  );
  const name = (c: Connection) => c.user.displayName || c.user.username;
  return (
    <Card title="Connections" id="set-connections">
      {error && <p className="form-error">{error}</p>}
      {status && <p role="status" className="visually-hidden">{status}</p>}
      {data && (
        <>
          <h3>Requests to you</h3>
          {data.incoming.length ? (
            <ul className="rows" aria-label="Connection requests to you">
              {data.incoming.map((c) =>
                row(
                  c,
                  <div className="row">
                    <button className="btn btn-primary btn-small" type="button" onClick={() => act(() => client.connections.accept(c.user.id), `Connected with ${name(c)}.`)}>
                      Accept<span className="visually-hidden"> {name(c)}</span>
                    </button>
                    <button className="btn btn-small" type="button" onClick={() => act(() => client.connections.remove(c.user.id), `Declined ${name(c)}.`)}>
                      Decline<span className="visually-hidden"> {name(c)}</span>
                    </button>
                  </div>,
                ),
              )}
            </ul>
          ) : (
            <p className="conv-time">No requests right now.</p>
          )}
          <h3>Requests you sent</h3>
          {data.outgoing.length ? (
            <ul className="rows" aria-label="Connection requests you sent">
              {data.outgoing.map((c) =>
                row(
                  c,
                  <button className="btn btn-small" type="button" onClick={() => act(() => client.connections.remove(c.user.id), `Cancelled the request to ${name(c)}.`)}>
                    Cancel<span className="visually-hidden"> request to {name(c)}</span>
                  </button>,
                ),
              )}
            </ul>
          ) : (
            <p className="conv-time">None pending.</p>
          )}
          <h3>Connected</h3>
          {data.connected.length ? (
            <ul className="rows" aria-label="Your connections">
              {data.connected.map((c) =>
                row(
                  c,
                  <button className="btn btn-ghost btn-small" type="button" onClick={() => act(() => client.connections.remove(c.user.id), `Removed ${name(c)}.`)}>
                    Remove<span className="visually-hidden"> {name(c)}</span>
                  </button>,
                ),
              )}
            </ul>
          ) : (
            <p className="conv-time">No connections yet. Find people with the search in your inbox.</p>
          )}
        </>
      )}
    </Card>
  );
}

function BlockedCard() {
  const { client } = useApp();
  const { data, error, reload } = useAsync(async () => (await client.blocks.list({ limit: 200 })).blocks);
  const unblock = async (b: Block) => {
    await client.blocks.remove(b.user.id).catch(() => undefined);
    reload();
  };
  return (
    <Card title="Blocked people" id="set-blocked">
      <p>They can’t message you, add you to groups, or see your profile. They are not told.</p>
      {error && <p className="form-error">{error}</p>}
      {data &&
        (data.length ? (
          <ul className="rows" aria-label="Blocked people">
            {data.map((b) => (
              <li key={b.user.id}>
                <Avatar id={b.user.id} name={b.user.displayName || b.user.username} size="s" />
                <div className="grow">
                  <strong>{b.user.displayName || b.user.username}</strong>
                  <span>@{b.user.username}</span>
                </div>
                <button className="btn btn-small" type="button" onClick={() => void unblock(b)}>
                  Unblock<span className="visually-hidden"> {b.user.displayName || b.user.username}</span>
                </button>
              </li>
            ))}
          </ul>
        ) : (
          <p className="conv-time">You haven’t blocked anyone.</p>
        ))}
    </Card>
  );
}

function DevicesCard() {
  const { client, signOut } = useApp();
  const { data, error, reload } = useAsync(() => client.sessions.list());
  const revoke = async (s: Session) => {
    if (s.current) return signOut();
    await client.sessions.revoke(s.id).catch(() => undefined);
    reload();
  };
  return (
    <Card title="Devices" id="set-devices">
      <p>Where your account is signed in. Signing a device out closes it at once.</p>
      {error && <p className="form-error">{error}</p>}
      {data && (
        <ul className="rows" aria-label="Signed-in devices">
          {data.map((s) => (
            <li key={s.id}>
              <div className="grow">
                <strong>
                  {s.deviceName} {s.current && <span className="current-tag">· this device</span>}
                </strong>
                <span>
                  Signed in {formatDateTime(s.createdAt)} · active {formatDateTime(s.lastActiveAt)}
                </span>
              </div>
              <button className="btn btn-small" type="button" onClick={() => void revoke(s)}>
                Sign out<span className="visually-hidden"> {s.current ? 'this device' : s.deviceName}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function PasswordCard() {
  const { client } = useApp();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (next.length < LIMITS.passwordMin) return setStatus({ ok: false, text: `Use at least ${LIMITS.passwordMin} characters.` });
    try {
      await client.me.changePassword(current, next);
      setCurrent('');
      setNext('');
      setStatus({ ok: true, text: 'Password changed. Your other devices were signed out.' });
    } catch (err) {
      setStatus({ ok: false, text: describeError(err) });
    }
  };
  return (
    <Card title="Password" id="set-password">
      <form onSubmit={submit}>
        <div className="settings-grid">
          <div className="field">
            <label htmlFor="pw-current">Current password</label>
            <input id="pw-current" className="input" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="pw-new">New password</label>
            <input id="pw-new" className="input" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} />
          </div>
        </div>
        <div className="row">
          <button className="btn" type="submit" disabled={!current || !next}>
            Change password
          </button>
          {status && (
            <span role="status" className={status.ok ? 'form-ok' : 'form-error'}>
              {status.text}
            </span>
          )}
        </div>
      </form>
    </Card>
  );
}

function DataCard() {
  const { client, signOut } = useApp();
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const download = async () => {
    setError(null);
    try {
      const data = await client.me.export();
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `parley-export-${new Date().toISOString().slice(0, 10)}.json`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(describeError(err));
    }
  };
  const remove = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await client.me.delete(password);
      await signOut({ remote: false });
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <Card title="Your data" id="set-data" className="danger-zone">
      <div className="row">
        <p className="grow">Download everything Parley stores about you: profile, settings, connections, conversations and messages.</p>
        <button className="btn" type="button" onClick={() => void download()}>
          Download my data
        </button>
      </div>
      {!confirming ? (
        <div className="row">
          <p className="grow">Delete your account and its data. This cannot be undone.</p>
          <button className="btn btn-danger" type="button" onClick={() => setConfirming(true)}>
            Delete account…
          </button>
        </div>
      ) : (
        <form onSubmit={remove}>
          <div className="field">
            <label htmlFor="del-password">Enter your password to delete your account for good</label>
            <input id="del-password" className="input" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </div>
          <div className="row">
            <button className="btn btn-danger" type="submit" disabled={!password}>
              Delete my account
            </button>
            <button className="btn btn-ghost" type="button" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </div>
        </form>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </Card>
  );
}
