import { ApiError } from '@parley/sdk';

interface Coded {
  code: string;
  message: string;
  retryAfter?: number;
  data?: Record<string, unknown>;
}

/** An ApiError, or the `{code, message}` the outbox keeps for a failed send. */
function coded(err: unknown): Coded | null {
  if (err instanceof ApiError) return err;
  if (err && typeof err === 'object' && typeof (err as Coded).code === 'string' && typeof (err as Coded).message === 'string') return err as Coded;
  return null;
}

/** What to tell a person when a call fails, keyed on the error code (never its message). */
export function describeError(failure: unknown): string {
  const err = coded(failure);
  if (!err) return 'Something went wrong. Please try again.';
  switch (err.code) {
    case 'network_error':
    case 'timeout':
    case 'unavailable':
      return 'Cannot reach the server. Check your connection and try again.';
    case 'rate_limited':
      return err.retryAfter ? `Too many attempts. Try again in ${Math.ceil(err.retryAfter)} s.` : 'Too many attempts. Try again in a moment.';
    case 'unauthorized':
      return 'Wrong username or password.';
    case 'username_taken':
      return 'That username is taken. Try another.';
    case 'messaging_not_allowed':
    case 'blocked':
      return 'You can’t message this person.';
    case 'request_pending':
      return 'Wait until they accept your message request to send more.';
    case 'not_a_member':
      return 'You are no longer in this conversation.';
    case 'not_found':
      return 'Not found. It may have been removed.';
    case 'forbidden':
      // A wrong password where one is asked again (account deletion, a password change).
      if (err.data?.field === 'password' || err.data?.field === 'currentPassword') return 'That password is not right.';
      return 'You are not allowed to do that.';
    case 'too_large':
      return 'That is too large.';
    case 'conflict':
      return err.data?.reason === 'pin_limit' && typeof err.data.limit === 'number'
        ? `At most ${err.data.limit} messages can be pinned. Unpin one first.`
        : 'That changed meanwhile. Try again.';
    case 'limit_reached': {
      const limit = typeof err.data?.limit === 'number' ? err.data.limit : null;
      if (err.data?.field === 'body.pinned' && limit) return `At most ${limit} conversations can be pinned. Unpin one first.`;
      if (err.data?.field === 'conversationIds' && limit) return `Forward to at most ${limit} conversations at once.`;
      return limit ? `You have reached the limit of ${limit}.` : 'You have reached the limit for that.';
    }
    case 'unsupported_media_type':
      return 'That type of file cannot be sent.';
    case 'invalid_request': {
      const field = typeof err.data?.field === 'string' ? err.data.field.replace(/^body\./, '') : null;
      return field ? `Check the ${field}: ${err.message}` : `That did not work: ${err.message}`;
    }
    default:
      return 'Something went wrong on the server. Please try again.';
  }
}

/** A device name people recognise in their device list, e.g. "Chrome on Linux". */
export function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'web';
  return `${browser} on ${os}`;
}
