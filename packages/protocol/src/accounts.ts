import { z } from 'zod';
import { Id, Limit, OptionalCursor, Timestamp } from './common.ts';
import { LIMITS } from './limits.ts';

export const Username = z
  .string()
  .min(LIMITS.usernameMin)
  .max(LIMITS.usernameMax)
  .regex(/^[A-Za-z0-9_.]+$/, 'may contain only a-z, 0-9, _ and .')
  .transform((s) => s.toLowerCase());

export const Password = z.string().min(LIMITS.passwordMin).max(LIMITS.passwordMax);
export const DisplayName = z.string().trim().min(1).max(LIMITS.displayNameMax);
export const DeviceName = z.string().trim().min(1).max(LIMITS.deviceNameMax);

export const User = z.object({
  id: Id,
  username: z.string(),
  displayName: z.string(),
  bio: z.string(),
  deleted: z.boolean().optional().describe('true for an account that was deleted; its name is no longer shown'),
});
export type User = z.infer<typeof User>;

export const SessionToken = z.object({ id: Id, token: z.string() });

export const SignUpBody = z.object({
  username: Username,
  password: Password,
  displayName: DisplayName.optional(),
  deviceName: DeviceName.optional(),
});
export const SignInBody = z.object({
  username: z.string().min(1).max(LIMITS.usernameMax).transform((s) => s.toLowerCase()),
  password: z.string().min(1).max(LIMITS.passwordMax),
  deviceName: DeviceName.optional(),
});
export const AuthResult = z.object({ user: User, session: SessionToken });
export type AuthResult = z.infer<typeof AuthResult>;

export const Session = z.object({
  id: Id,
  deviceName: z.string(),
  createdAt: Timestamp,
  lastActiveAt: Timestamp,
  current: z.boolean(),
});
export type Session = z.infer<typeof Session>;
export const SessionList = z.object({ sessions: z.array(Session) });

export const ProfilePatch = z
  .object({
    displayName: DisplayName.optional(),
    bio: z.string().max(LIMITS.bioMax).optional(),
  })
  .strict();

export const PasswordChangeBody = z.object({
  currentPassword: z.string().min(1).max(LIMITS.passwordMax),
  newPassword: Password,
});
export const DeleteAccountBody = z.object({ password: z.string().min(1).max(LIMITS.passwordMax) });

export const UserSearchQuery = z.object({
  query: z.string().trim().min(1).max(64),
  limit: Limit,
  cursor: OptionalCursor,
});
export const UserList = z.object({ users: z.array(User), nextCursor: z.string().nullable() });
