import { createContext, useContext } from 'react';
import type { ParleyClient, User } from '@parley/sdk';
import type { UserDirectory } from './users.ts';

export interface AppState {
  client: ParleyClient;
  me: User;
  setMe(user: User): void;
  users: UserDirectory;
  /**
   * Ends this device's session and returns to the sign-in screen. `remote: false` only
   * forgets it here (the account was just deleted: there is no session left to revoke).
   */
  signOut(options?: { remote?: boolean }): Promise<void>;
  /** Show a short message to the person (and to screen readers). */
  toast(text: string): void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const app = useContext(AppContext);
  if (!app) throw new Error('useApp outside the signed-in app');
  return app;
}
