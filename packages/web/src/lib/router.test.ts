import { describe, expect, it } from 'vitest';
import { parseRoute, pathOf, type Route } from './router.ts';

describe('routes', () => {
  it('round-trip between paths and routes', () => {
    const routes: Route[] = [
      { name: 'inbox' },
      { name: 'requests' },
      { name: 'archived' },
      { name: 'conversation', id: '0190-abc_D' },
      { name: 'settings' },
      { name: 'settings', section: 'privacy' },
      { name: 'join', token: 'tok-123' },
      { name: 'signin' },
      { name: 'signup' },
    ];
    for (const r of routes) expect(parseRoute(pathOf(r))).toEqual(r.name === 'settings' && !r.section ? { name: 'settings', section: undefined } : r);
  });

  it('sends unknown or incomplete paths to the inbox', () => {
    expect(parseRoute('/nope')).toEqual({ name: 'inbox' });
    expect(parseRoute('/c/')).toEqual({ name: 'inbox' });
    expect(parseRoute('/join')).toEqual({ name: 'inbox' });
  });
});
