import { useSyncExternalStore } from 'react';

/**
 * Pinned conversations are a per-device preference (the server keeps no such state): they
 * sit at the top of the inbox in the order they were pinned.
 */
const KEY = 'parley.pinned';
const listeners = new Set<() => void>();
let cache: string[] | null = null;

function read(): string[] {
  if (cache) return cache;
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    cache = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    cache = [];
  }
  return cache;
}

export function togglePinned(conversationId: string): void {
  const now = read();
  cache = now.includes(conversationId) ? now.filter((id) => id !== conversationId) : [...now, conversationId];
  localStorage.setItem(KEY, JSON.stringify(cache));
  for (const l of listeners) l();
}

export function usePinned(): string[] {
  return useSyncExternalStore((l) => {
    listeners.add(l);
    return () => listeners.delete(l);
  }, read);
}
