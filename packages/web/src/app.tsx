import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, ParleyClient, type User } from '@parley/sdk';
import { AppContext, type AppState } from './lib/app-context.ts';
import { deviceName } from './lib/errors.ts';
import { LocalOutboxPersistence } from './lib/outbox-storage.ts';
import { navigate, parseRoute, useRoute } from './lib/router.ts';
import { clearSession, loadSession, saveSession, type StoredSession } from './lib/session.ts';
import { UserDirectory } from './lib/users.ts';
import { AuthScreen, type AuthInput, type AuthMode } from './screens/auth.tsx';
import { Shell } from './screens/shell.tsx';

function newClient(session: StoredSession | null): ParleyClient {
  return new ParleyClient({
    baseUrl: window.location.origin,
    token: session?.token ?? null,
    // Called as a method, the unbound global fetch throws "Illegal invocation" in browsers.
    fetch: (input, init) => window.fetch(input, init as RequestInit),
    ...(session ? { outbox: new LocalOutboxPersistence(`parley.outbox.${session.userId}`) } : {}),
  });
}

const INVITE_KEY = 'parley.invite';

// An invite link opened while signed out is kept until the person has signed in.
{
  const route = parseRoute(window.location.pathname);
  if (route.name === 'join') sessionStorage.setItem(INVITE_KEY, route.token);
}

/** Signed out: the sign-in and sign-up screens. Signed in: the messenger, once the profile is known. */
export function App() {
  const [session, setSession] = useState<StoredSession | null>(loadSession);
  const [client, setClient] = useState(() => newClient(session));
  const [me, setMe] = useState<User | null>(null);
  const [bootError, setBootError] = useState<string | null>(null);
  const route = useRoute();

  const endSession = useCallback(() => {
    clearSession();
    setSession(null);
    setMe(null);
    setClient(newClient(null));
    navigate({ name: 'signin' }, { replace: true });
  }, []);

  useEffect(() => {
    if (!session) return;
    let live = true;
    client.me.get().then(
      (user) => live && setMe(user),
      (err) => {
        if (!live) return;
        if (err instanceof ApiError && err.code === 'unauthorized') endSession();
        else setBootError('Cannot reach the server. Retrying…');
      },
    );
    return () => {
      live = false;
    };
  }, [client, session, endSession, bootError]);

  // Until the profile loads, retry a failed boot (the server may be restarting).
  useEffect(() => {
    if (!bootError) return;
    const t = setTimeout(() => setBootError(null), 3000);
    return () => clearTimeout(t);
  }, [bootError]);

  const authenticate = async (mode: AuthMode, input: AuthInput) => {
    const api = newClient(null);
    const result =
      mode === 'signup'
        ? await api.accounts.signUp({ username: input.username, password: input.password, displayName: input.displayName, deviceName: deviceName() })
        : await api.accounts.signIn({ username: input.username, password: input.password, deviceName: deviceName() });
    const stored = { token: result.session.token, sessionId: result.session.id, userId: result.user.id };
    saveSession(stored);
    setClient(newClient(stored));
    setSession(stored);
    setMe(result.user);
    navigate({ name: 'inbox' }, { replace: true });
  };

  if (!session) {
    return <AuthScreen key={route.name} mode={route.name === 'signup' ? 'signup' : 'signin'} onSubmit={authenticate} />;
  }
  if (!me) {
    return (
      <main className="pane-empty" aria-busy="true">
        <div className="spinner" />
        <p role="status">{bootError ?? 'Loading your conversations…'}</p>
      </main>
    );
  }
  return <SignedIn client={client} me={me} setMe={setMe} onSignedOut={endSession} />;
}

function SignedIn({ client, me, setMe, onSignedOut }: { client: ParleyClient; me: User; setMe: (u: User) => void; onSignedOut: () => void }) {
  const users = useMemo(() => new UserDirectory((id) => client.users.get(id)), [client]);
  const [toastText, setToastText] = useState<string | null>(null);
  const toastTimer = useRef<ReturnType<typeof setTimeout>>(undefined);

  useEffect(() => {
    users.put(me);
  }, [users, me]);

  useEffect(() => {
    client.connect().catch((err) => {
      if (err instanceof ApiError && err.code === 'unauthorized') onSignedOut();
    });
    const off = client.on('session.revoked', onSignedOut);
    const invite = sessionStorage.getItem(INVITE_KEY);
    if (invite) {
      sessionStorage.removeItem(INVITE_KEY);
      client.invites.join(invite).then(
        (c) => {
          client.store.upsertConversation(c);
          navigate({ name: 'conversation', id: c.id }, { replace: true });
        },
        () => {
          setToastText('That invite link is no longer valid.');
          navigate({ name: 'inbox' }, { replace: true });
        },
      );
    }
    return () => {
      off();
      client.disconnect();
    };
  }, [client, onSignedOut]);

  const app: AppState = useMemo(
    () => ({
      client,
      me,
      setMe: (u: User) => {
        users.put(u);
        setMe(u);
      },
      users,
      signOut: async ({ remote = true } = {}) => {
        if (remote) await client.signOut().catch(() => undefined);
        else client.disconnect();
        onSignedOut();
      },
      toast: (text: string) => {
        setToastText(text);
        clearTimeout(toastTimer.current);
        toastTimer.current = setTimeout(() => setToastText(null), 4000);
      },
    }),
    [client, me, setMe, users, onSignedOut],
  );

  return (
    <AppContext.Provider value={app}>
      <Shell />
      <div className="toast-region" role="status" aria-live="polite">
        {toastText && <div className="toast">{toastText}</div>}
      </div>
    </AppContext.Provider>
  );
}

