import type { AuthResult, Session, User } from '@parley/protocol';
import { coalesce } from '../../coalesce.ts';
import type { AppContext, Caller } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { nowIso, uuidv7 } from '../../ids.ts';
import { precompile } from '../../storage/db.ts';
import { addressKey } from '../safety/index.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { DELETED_USERNAME, findUserById, findUserByUsername, searchUsers, toUser } from './queries.ts';
import { decodeCursor, page } from '../graph/index.ts';
import { SESSIONS_TOPIC, SessionCache } from './session-cache.ts';
import { hashToken, newToken } from './tokens.ts';

/** How often a session's lastActiveAt is written: at most once a minute, not on every request. */
const ACTIVITY_WRITE_MS = 60_000;

export function createAccounts(ctx: AppContext) {
  const { db } = ctx;
  // Every socket and every request whose token is not cached runs it: compiled once.
  const sessionByHash = precompile(1, (hash: string) =>
    db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['sessions.id', 'sessions.user_id', 'sessions.last_active_at'])
      .where('sessions.token_hash', '=', hash)
      .where('users.deleted_at', 'is', null),
  );

  async function createSession(userId: string, deviceName: string | undefined): Promise<{ id: string; token: string }> {
    const id = uuidv7();
    const token = newToken();
    const now = nowIso();
    await db
      .insertInto('sessions')
      .values({ id, user_id: userId, token_hash: hashToken(token), device_name: deviceName ?? 'Unnamed device', created_at: now, last_active_at: now })
      .execute();
    return { id, token };
  }

  // Token hash → caller. Every process hears every revocation on SESSIONS_TOPIC; until its
  // subscription is live, the cache stays off and every token is checked in the database.
  const cache = new SessionCache();
  const caching = ctx.bus
    .subscribe(SESSIONS_TOPIC, (event) => {
      if (event.type === 'session.revoked') cache.drop(event.sessionId);
    })
    .then(() => {
      cache.enable();
      return true;
    })
    .catch((err: unknown) => {
      ctx.log.warn({ err }, 'session cache off: the bus refused its subscription');
      return false;
    });

  // Last activity is bookkeeping for the device list: written off the request path, the
  // sessions of many requests in one transaction.
  const writeActivity = coalesce<string, string>((batch) =>
    ctx.database.write(async (trx) => {
      for (const [sessionId, at] of batch) await trx.updateTable('sessions').set({ last_active_at: at }).where('id', '=', sessionId).execute();
    }),
  );
  function touch(sessionId: string, now: number): void {
    writeActivity(sessionId, nowIso(now)).catch((err: unknown) => ctx.log.warn({ err }, 'session activity not written'));
  }

  /**
   * Sessions were deleted (committed): they stop working here at once, on every other
   * process once the bus has carried the news (awaited, so the caller's answer leaves after
   * Redis took it), and their sockets close.
   */
  async function revoked(userId: string, sessionIds: string[]): Promise<void> {
    const events = sessionIds.map((sessionId) => ({ type: 'session.revoked' as const, userId, sessionId }));
    for (const e of events) cache.drop(e.sessionId);
    await Promise.all(
      events.map((e) => ctx.bus.publish(SESSIONS_TOPIC, e).catch((err: unknown) => ctx.log.warn({ err, sessionId: e.sessionId }, 'session revocation not announced on the bus'))),
    );
    for (const e of events) ctx.emit(e);
  }

  async function revoke(sessionIds: string[], userId: string): Promise<void> {
    if (sessionIds.length === 0) return;
    await db.deleteFrom('sessions').where('id', 'in', sessionIds).where('user_id', '=', userId).execute();
    await revoked(userId, sessionIds);
  }

  /** The database's answer for a token (null: no such session, or a deleted account), cached when no revocation raced it. */
  async function lookup(hash: string, now: number): Promise<Caller | null> {
    const generation = cache.begin();
    const [row] = await sessionByHash(db, hash);
    if (!row) return null;
    const caller = { userId: row.user_id, sessionId: row.id };
    let lastActiveAt = Date.parse(row.last_active_at);
    if (now - lastActiveAt > ACTIVITY_WRITE_MS) {
      touch(row.id, now);
      lastActiveAt = now;
    }
    cache.put(hash, caller, now, lastActiveAt, generation);
    return caller;
  }

  return {
    /** Resolves once tokens are cached (true), or never will be in this process (false). */
    caching,

    async signUp(input: { username: string; password: string; displayName?: string | undefined; deviceName?: string | undefined }): Promise<AuthResult> {
      // A deleted account is shown under this name (queries.ts `toUser`): nobody may take it.
      if (input.username === DELETED_USERNAME) throw new AppError('username_taken', 'that username is taken', { data: { field: 'username' } });
      const id = uuidv7();
      const now = nowIso();
      const passwordHash = await hashPassword(input.password);
      try {
        await db
          .insertInto('users')
          .values({
            id,
            username: input.username,
            display_name: input.displayName ?? input.username,
            bio: '',
            password_hash: passwordHash,
            who_can_message: 'everyone',
            who_can_add_to_groups: 'connections',
            read_receipts: 1,
            presence: 'connections',
            last_seen_at: null,
            external_id: null,
            created_at: now,
            deleted_at: null,
          })
          .execute();
      } catch (err) {
        if (ctx.database.isUniqueViolation(err)) throw new AppError('username_taken', 'that username is taken', { data: { field: 'username' } });
        throw err;
      }
      const session = await createSession(id, input.deviceName);
      return { user: { id, username: input.username, displayName: input.displayName ?? input.username, bio: '' }, session };
    },

    /**
     * Same answer, and about the same time, for a wrong password and an unknown user. The
     * limits are checked before the user is looked up, so a 429 says nothing about whether
     * the username exists either. A username's bucket counts every attempt (and empties on
     * success); an address's counts only failures, so many people behind one NAT can sign in.
     */
    async signIn(input: { username: string; password: string; deviceName?: string | undefined }, clientAddress: string): Promise<AuthResult> {
      const address = addressKey(clientAddress);
      await ctx.limits.check('signInAddress', address);
      await ctx.limits.take('signInUsername', input.username);
      const user = await findUserByUsername(db, input.username);
      const ok = await verifyPassword(user?.password_hash ?? null, input.password);
      if (!user || !ok) {
        // This attempt is answered 401 either way; the failure only counts toward the next.
        await ctx.limits.take('signInAddress', address).catch(() => {});
        throw new AppError('unauthorized', 'wrong username or password');
      }
      await ctx.limits.reset('signInUsername', input.username);
      const session = await createSession(user.id, input.deviceName);
      return { user: toUser(user), session };
    },

    /**
     * The caller behind a bearer token, or null. Answered from memory when the token was
     * checked in the last few seconds and no revocation of it was heard since. The session's
     * last activity is written at most once a minute, without holding up the caller.
     */
    async authenticate(token: string): Promise<Caller | null> {
      if (!token || token.length > 512) return null;
      const hash = hashToken(token);
      const now = Date.now();
      const hit = cache.get(hash, now);
      if (!hit) return lookup(hash, now);
      if (now - hit.lastActiveAt > ACTIVITY_WRITE_MS) {
        hit.lastActiveAt = now;
        touch(hit.caller.sessionId, now);
      }
      return { ...hit.caller };
    },

    async listSessions(caller: Caller): Promise<Session[]> {
      const rows = await db.selectFrom('sessions').selectAll().where('user_id', '=', caller.userId).orderBy('created_at', 'desc').execute();
      return rows.map((r) => ({ id: r.id, deviceName: r.device_name, createdAt: r.created_at, lastActiveAt: r.last_active_at, current: r.id === caller.sessionId }));
    },

    /** Sign a device out: its token stops working now and its sockets close (through the session.revoked event). */
    async revokeSession(caller: Caller, sessionId: string): Promise<void> {
      const row = await db.selectFrom('sessions').select('id').where('id', '=', sessionId).where('user_id', '=', caller.userId).executeTakeFirst();
      if (!row) throw new AppError('not_found', 'no such session');
      await revoke([sessionId], caller.userId);
    },

    async getProfile(userId: string): Promise<User> {
      const row = await findUserById(db, userId);
      if (!row || row.deleted_at) throw new AppError('not_found', 'no such user');
      return toUser(row);
    },

    /** Anyone's public face, a deleted account included (as a tombstone without its old name). */
    async getUser(userId: string): Promise<User> {
      const row = await findUserById(db, userId);
      if (!row) throw new AppError('not_found', 'no such user');
      return toUser(row);
    },

    async updateProfile(caller: Caller, patch: { displayName?: string | undefined; bio?: string | undefined }): Promise<User> {
      const set: { display_name?: string; bio?: string } = {};
      if (patch.displayName !== undefined) set.display_name = patch.displayName;
      if (patch.bio !== undefined) set.bio = patch.bio;
      if (Object.keys(set).length > 0) await db.updateTable('users').set(set).where('id', '=', caller.userId).execute();
      return this.getProfile(caller.userId);
    },

    /** Change the password; every other session is signed out. */
    async changePassword(caller: Caller, currentPassword: string, newPassword: string): Promise<void> {
      const user = await findUserById(db, caller.userId);
      if (!user || !(await verifyPassword(user.password_hash, currentPassword))) {
        throw new AppError('forbidden', 'the current password is wrong', { data: { field: 'currentPassword' } });
      }
      await db.updateTable('users').set({ password_hash: await hashPassword(newPassword) }).where('id', '=', caller.userId).execute();
      const others = await db.selectFrom('sessions').select('id').where('user_id', '=', caller.userId).where('id', '!=', caller.sessionId).execute();
      await revoke(
        others.map((s) => s.id),
        caller.userId,
      );
    },

    /** One page of matches in username order; `cursor` is the `nextCursor` of the page before. */
    async search(query: string, limit: number, cursor?: string): Promise<{ users: User[]; nextCursor: string | null }> {
      const after = decodeCursor(cursor, 1);
      const rows = await searchUsers(db, query, limit + 1, after?.[0]);
      const { items, nextCursor } = page(rows, limit, (r) => [r.username]);
      return { users: items.map(toUser), nextCursor };
    },

    /** Check a password without side effects (account deletion asks for it). */
    async checkPassword(userId: string, password: string): Promise<boolean> {
      const user = await findUserById(db, userId);
      return !!user && !user.deleted_at && (await verifyPassword(user.password_hash, password));
    },

    /** Sessions deleted by another action of this module (account deletion): announce them as revoked. */
    sessionsRevoked: (userId: string, sessionIds: string[]) => revoked(userId, sessionIds),

    /** Sign out every device of a user (account deletion). */
    async revokeAllSessions(userId: string): Promise<void> {
      const all = await db.selectFrom('sessions').select('id').where('user_id', '=', userId).execute();
      await revoke(
        all.map((s) => s.id),
        userId,
      );
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
