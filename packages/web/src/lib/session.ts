/** "Remember this device": the session token lives in localStorage until sign-out. */
export interface StoredSession {
  token: string;
  sessionId: string;
  userId: string;
}

const KEY = 'parley.session';

export function loadSession(): StoredSession | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<StoredSession>;
    return typeof v.token === 'string' && typeof v.sessionId === 'string' && typeof v.userId === 'string' ? (v as StoredSession) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: StoredSession): void {
  localStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  localStorage.removeItem(KEY);
  // The outbox and cached state belong to the signed-out account.
  for (const key of Object.keys(localStorage)) if (key.startsWith('parley.outbox.')) localStorage.removeItem(key);
}
