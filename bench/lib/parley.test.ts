import { describe, expect, it } from 'vitest';
import { freshStorage, startParley } from './parley.ts';

describe('startParley', () => {
  it('a server that exits while starting fails at once, with what it printed', async () => {
    const storage = await freshStorage('sqlite');
    try {
      // A setting the server refuses: it exits before it listens. Waiting out the 60 s given
      // to a server still starting would outlast the test's own 30 s.
      await expect(startParley(storage, { env: { PARLEY_DURABILITY: 'sometimes' } })).rejects.toThrow(/exited \(\d+\) before \/v1\/health[\s\S]*PARLEY_DURABILITY/);
    } finally {
      await storage.drop();
    }
  });
});
