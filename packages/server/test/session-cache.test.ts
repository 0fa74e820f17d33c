/**
 * The session cache of the accounts module: a checked token is answered from memory, and
 * every way a session ends (sign-out, another device signing it out, a password change,
 * account deletion) takes it out of every cache at once — the serving process's own, and
 * another accounts instance's on the same bus, which stands for a second process (the
 * scale-out suite proves it with two real processes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccounts } from '../src/modules/accounts/index.ts';
import { startTestServer, type TestServer } from './harness.ts';
import { busVariants } from './realtime-client.ts';

for (const { dialect, bus, config } of await busVariants()) {
  describe(`session cache [${dialect}, ${bus} bus]`, () => {
    let t: TestServer;
    /** A second process's accounts module: its own cache, the same database and bus. */
    let other: ReturnType<typeof createAccounts>;

    beforeAll(async () => {
      t = await startTestServer(dialect, config);
      other = createAccounts(t.server.ctx);
      expect(await other.caching).toBe(true);
    });
    afterAll(async () => {
      await t?.close();
    });

    const signIn = async (username: string) => (await t.api.post('/v1/sessions', { username, password: 'correct horse battery' })).body.session as { id: string; token: string };
    /**
     * The other process drops the token when the bus delivers the revocation: the revoking
     * request answers once Redis took the message, but the other subscriber reads it a moment
     * later (milliseconds; pub/sub gives no stronger promise). The revoking process itself
     * refuses the token at once (asserted with the HTTP calls below).
     */
    const goneElsewhere = async (token: string) => {
      const deadline = Date.now() + 5_000;
      while ((await other.authenticate(token)) !== null) {
        if (Date.now() > deadline) throw new Error('the other process still accepts a revoked token');
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    /** Authenticated once by the other process, so it holds the token in its cache. */
    const cachedElsewhere = async (token: string) => {
      const caller = await other.authenticate(token);
      expect(caller).not.toBeNull();
      return caller!;
    };

    it('answers a token it checked from memory (a row removed behind its back goes unnoticed until the recheck)', async () => {
      const u = await t.api.signUp('cache');
      const caller = await cachedElsewhere(u.token);
      expect(caller).toEqual({ userId: u.id, sessionId: u.sessionId });
      // Only the accounts module deletes sessions, and it always announces it; this delete
      // does not, which shows where the answer comes from.
      await t.server.ctx.db.deleteFrom('sessions').where('id', '=', u.sessionId).execute();
      expect(await other.authenticate(u.token)).toEqual(caller);
      // A fresh instance asks the database.
      const fresh = createAccounts(t.server.ctx);
      await fresh.caching;
      expect(await fresh.authenticate(u.token)).toBeNull();
    });

    it('still records a session’s last activity, off the request path', async () => {
      const u = await t.api.signUp('active');
      const { db } = t.server.ctx;
      const stale = '2020-01-01T00:00:00.000Z';
      await db.updateTable('sessions').set({ last_active_at: stale }).where('id', '=', u.sessionId).execute();
      const fresh = createAccounts(t.server.ctx);
      await fresh.caching;
      expect(await fresh.authenticate(u.token)).not.toBeNull();
      const stamp = async () => (await db.selectFrom('sessions').select('last_active_at').where('id', '=', u.sessionId).executeTakeFirstOrThrow()).last_active_at;
      while ((await stamp()) === stale) await new Promise((r) => setTimeout(r, 10));
      expect(Date.parse(await stamp())).toBeGreaterThan(Date.parse(stale));
    });

    it('a session signed out from another device stops working everywhere at once', async () => {
      const u = await t.api.signUp('revoked');
      const tablet = await signIn(u.username);
      await cachedElsewhere(tablet.token);
      expect((await t.api.get('/v1/me', tablet.token)).status).toBe(200);
      expect((await t.api.delete(`/v1/sessions/${tablet.id}`, u.token)).status).toBe(204);
      await goneElsewhere(tablet.token);
      expect((await t.api.get('/v1/me', tablet.token)).status).toBe(401);
      expect(await other.authenticate(u.token)).not.toBeNull();
    });

    it('a password change ends every other session everywhere at once, and keeps the current one', async () => {
      const u = await t.api.signUp('password');
      const phone = await signIn(u.username);
      await cachedElsewhere(phone.token);
      await cachedElsewhere(u.token);
      expect((await t.api.put('/v1/me/password', { currentPassword: 'correct horse battery', newPassword: 'another passphrase' }, u.token)).status).toBe(204);
      await goneElsewhere(phone.token);
      expect((await t.api.get('/v1/me', phone.token)).status).toBe(401);
      expect(await other.authenticate(u.token)).toEqual({ userId: u.id, sessionId: u.sessionId });
    });

    it('deleting the account ends all its sessions everywhere at once', async () => {
      const u = await t.api.signUp('leaving');
      const laptop = await signIn(u.username);
      await cachedElsewhere(laptop.token);
      await cachedElsewhere(u.token);
      expect((await t.api.delete('/v1/me', u.token, { password: 'correct horse battery' })).status).toBe(204);
      await goneElsewhere(laptop.token);
      await goneElsewhere(u.token);
      expect((await t.api.get('/v1/me', laptop.token)).status).toBe(401);
    });
  });
}
