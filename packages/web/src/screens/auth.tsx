import { useState, type FormEvent } from 'react';
import { LIMITS } from '@parley/protocol';
import { describeError } from '../lib/errors.ts';
import { navigate } from '../lib/router.ts';
import { BrandMark } from '../ui/icons.tsx';
import { ThemeToggle } from '../ui/theme-toggle.tsx';

export type AuthMode = 'signin' | 'signup';

export interface AuthInput {
  username: string;
  password: string;
  displayName?: string;
}

export function AuthScreen({ mode, onSubmit }: { mode: AuthMode; onSubmit: (mode: AuthMode, input: AuthInput) => Promise<void> }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signup = mode === 'signup';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (signup && !/^[A-Za-z0-9_.]{3,32}$/.test(username)) {
      setError('Usernames are 3 to 32 letters, digits, _ or .');
      return;
    }
    if (signup && password.length < LIMITS.passwordMin) {
      setError(`Use at least ${LIMITS.passwordMin} characters for your password.`);
      return;
    }
    setBusy(true);
    try {
      await onSubmit(mode, { username: username.trim(), password, displayName: displayName.trim() || undefined });
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  return (
    <main className="auth">
      <div>
        <section className="auth-card" aria-labelledby="auth-title">
          <header>
            <BrandMark />
            <h1 id="auth-title">{signup ? 'Create your Parley account' : 'Welcome back'}</h1>
            <p>{signup ? 'Private conversations with the people you choose.' : 'Sign in to pick up your conversations.'}</p>
          </header>
          <form onSubmit={submit} noValidate>
            <div className="field">
              <label htmlFor="auth-username">Username</label>
              <input id="auth-username" className="input" name="username" autoComplete="username" autoCapitalize="none" spellCheck={false} required value={username} onChange={(e) => setUsername(e.target.value)} />
            </div>
            {signup && (
              <div className="field">
                <label htmlFor="auth-display">Display name <small>(optional)</small></label>
                <input id="auth-display" className="input" name="displayName" autoComplete="name" maxLength={LIMITS.displayNameMax} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
              </div>
            )}
            <div className="field">
              <label htmlFor="auth-password">Password</label>
              <input id="auth-password" className="input" name="password" type="password" autoComplete={signup ? 'new-password' : 'current-password'} required value={password} onChange={(e) => setPassword(e.target.value)} aria-describedby={signup ? 'auth-password-hint' : undefined} />
              {signup && <small id="auth-password-hint">At least {LIMITS.passwordMin} characters.</small>}
            </div>
            {error && (
              <p className="form-error" role="alert">
                {error}
              </p>
            )}
            <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
              {busy ? 'Please wait…' : signup ? 'Create account' : 'Sign in'}
            </button>
          </form>
          <p className="auth-switch">
            {signup ? 'Already have an account? ' : 'New to Parley? '}
            <button type="button" className="link-btn" onClick={() => navigate({ name: signup ? 'signin' : 'signup' })}>
              {signup ? 'Sign in' : 'Create an account'}
            </button>
          </p>
        </section>
        <div className="auth-foot">
          <ThemeToggle />
        </div>
      </div>
    </main>
  );
}
