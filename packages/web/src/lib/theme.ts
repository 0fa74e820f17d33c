import { useCallback, useSyncExternalStore } from 'react';

/** 'system' follows prefers-color-scheme; a choice is remembered on this device. */
export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'parley.theme';
const listeners = new Set<() => void>();

function read(): ThemeChoice {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : 'system';
}

export function applyTheme(choice: ThemeChoice = read()): void {
  if (choice === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = choice;
}

export function systemPrefersDark(): boolean {
  return window.matchMedia('(prefers-color-scheme: dark)').matches;
}

export function useTheme(): [ThemeChoice, (choice: ThemeChoice) => void, boolean] {
  const choice = useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    read,
  );
  const set = useCallback((next: ThemeChoice) => {
    if (next === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, next);
    applyTheme(next);
    for (const l of listeners) l();
  }, []);
  const dark = choice === 'dark' || (choice === 'system' && systemPrefersDark());
  return [choice, set, dark];
}
