import { useSyncExternalStore } from 'react';

/**
 * A small history router: the app has a handful of screens, and the server answers any
 * non-API path with index.html, so plain paths work on reload and as shared links.
 */
export type Route =
  | { name: 'inbox' }
  | { name: 'requests' }
  | { name: 'archived' }
  | { name: 'conversation'; id: string }
  | { name: 'settings'; section?: string }
  | { name: 'join'; token: string }
  | { name: 'signin' }
  | { name: 'signup' };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case undefined:
      return { name: 'inbox' };
    case 'requests':
      return { name: 'requests' };
    case 'archived':
      return { name: 'archived' };
    case 'c':
      return parts[1] ? { name: 'conversation', id: parts[1] } : { name: 'inbox' };
    case 'settings':
      return { name: 'settings', section: parts[1] };
    case 'join':
      return parts[1] ? { name: 'join', token: parts[1] } : { name: 'inbox' };
    case 'signin':
      return { name: 'signin' };
    case 'signup':
      return { name: 'signup' };
    default:
      return { name: 'inbox' };
  }
}

export function pathOf(route: Route): string {
  switch (route.name) {
    case 'inbox':
      return '/';
    case 'requests':
      return '/requests';
    case 'archived':
      return '/archived';
    case 'conversation':
      return `/c/${encodeURIComponent(route.id)}`;
    case 'settings':
      return route.section ? `/settings/${encodeURIComponent(route.section)}` : '/settings';
    case 'join':
      return `/join/${encodeURIComponent(route.token)}`;
    case 'signin':
      return '/signin';
    case 'signup':
      return '/signup';
    default: {
      const never: never = route;
      return never;
    }
  }
}

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

export function navigate(route: Route, options: { replace?: boolean } = {}): void {
  const path = pathOf(route);
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  for (const l of listeners) l();
}

export function usePathname(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

export function useRoute(): Route {
  return parseRoute(usePathname());
}
