import { randomToken, tokenHash } from '../../ids.ts';

/**
 * Session tokens are 256 random bits. Only their SHA-256 is stored, and lookups go by that
 * hash through a unique index: the database never compares attacker-chosen bytes against
 * a secret, so no timing side channel reveals a token.
 */
export const newToken = randomToken;
export const hashToken = tokenHash;
