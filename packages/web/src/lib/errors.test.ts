import { ApiError } from '@parley/sdk';
import { ERROR_CODES } from '@parley/protocol';
import { describe, expect, it } from 'vitest';
import { describeError } from './errors.ts';

describe('describeError', () => {
  it('has a sentence of its own for every code a person can meet (never the server-failure one)', () => {
    const serverFailure = describeError(new ApiError('internal', 'boom'));
    const own = ERROR_CODES.filter((c) => !['internal', 'headers_too_large', 'range_not_satisfiable', 'upgrade_required'].includes(c));
    for (const code of own) expect([code, describeError(new ApiError(code, 'x'))]).not.toEqual([code, serverFailure]);
  });

  it('names a wrong password, and the limits of pins and forwarding', () => {
    expect(describeError(new ApiError('forbidden', 'the password is wrong', { data: { field: 'password' } }))).toBe('That password is not right.');
    expect(describeError(new ApiError('forbidden', 'no'))).toBe('You are not allowed to do that.');
    expect(describeError(new ApiError('limit_reached', 'x', { data: { field: 'body.pinned', limit: 5 } }))).toBe('At most 5 conversations can be pinned. Unpin one first.');
    expect(describeError(new ApiError('conflict', 'x', { data: { reason: 'pin_limit', limit: 3 } }))).toBe('At most 3 messages can be pinned. Unpin one first.');
    expect(describeError({ code: 'messaging_not_allowed', message: 'no' })).toBe('You can’t message this person.');
    expect(describeError(new Error('?'))).toBe('Something went wrong. Please try again.');
  });
});
