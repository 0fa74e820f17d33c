import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { ApiError, ParleyApi } from '@parley/sdk';
import type { Command } from 'commander';

/**
 * What `parley login` keeps, and the pieces every client command shares: where the server
 * and the token come from, how output and errors are printed, and the exit codes.
 */

/** Exit codes of the client commands (documented in `parley --help`). */
export const EXIT = { ok: 0, failure: 1, usage: 2, auth: 3 } as const;

export const DEFAULT_SERVER = 'http://localhost:8080';

export interface SavedSession {
  server: string;
  token: string;
  userId: string;
  username: string;
  sessionId: string;
  savedAt: string;
}

export interface ClientFlags {
  server?: string;
  json?: boolean;
}

/** `PARLEY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/parley`, else `~/.config/parley`. */
export function configDir(): string {
  if (process.env.PARLEY_CONFIG_DIR) return process.env.PARLEY_CONFIG_DIR;
  return path.join(process.env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'parley');
}

export function sessionFile(): string {
  return path.join(configDir(), 'session.json');
}

export function loadSession(): SavedSession | null {
  let text: string;
  try {
    text = readFileSync(sessionFile(), 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as Partial<SavedSession>;
    return typeof parsed.token === 'string' && typeof parsed.server === 'string' ? (parsed as SavedSession) : null;
  } catch {
    return null;
  }
}

/** Write the session readable by its owner only (the token is a password): 0700 dir, 0600 file, atomically. */
export function saveSession(session: SavedSession): string {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = sessionFile();
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

export function forgetSession(): void {
  rmSync(sessionFile(), { force: true });
}

/** --server, else PARLEY_URL, else the saved session's server, else localhost:8080. */
export function serverUrl(flags: ClientFlags): string {
  return (flags.server || process.env.PARLEY_URL || loadSession()?.server || DEFAULT_SERVER).replace(/\/+$/, '');
}

/** PARLEY_TOKEN, else the saved session's token when it is for this server. */
export function tokenFor(server: string): string | null {
  if (process.env.PARLEY_TOKEN) return process.env.PARLEY_TOKEN;
  const saved = loadSession();
  return saved && saved.server.replace(/\/+$/, '') === server ? saved.token : null;
}

/** An API client for a command that needs a signed-in user; exits 3 when there is no token. */
export function signedInApi(flags: ClientFlags): { api: ParleyApi; server: string; token: string } {
  const server = serverUrl(flags);
  const token = tokenFor(server);
  if (!token) fail(flags, new ApiError('unauthorized', `not signed in to ${server}: run \`parley login\` or set PARLEY_TOKEN`), EXIT.auth);
  return { api: new ParleyApi({ baseUrl: server, token }), server, token };
}

/** Print a result: JSON with --json, else the human line. */
export function output(flags: ClientFlags, json: unknown, human: string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : `${human}\n`);
}

/** Print an error on stderr and exit: 3 for auth, 2 for usage, 1 otherwise. */
export function fail(flags: ClientFlags, err: unknown, code?: number): never {
  const apiErr = err instanceof ApiError ? err : null;
  const errorCode = apiErr?.code ?? 'error';
  const message = err instanceof Error ? err.message : String(err);
  if (flags.json) process.stderr.write(`${JSON.stringify({ error: { code: errorCode, message, ...(apiErr?.data ? { data: apiErr.data } : {}) } })}\n`);
  else process.stderr.write(`parley: ${errorCode === 'error' ? '' : `${errorCode}: `}${message}\n`);
  process.exit(code ?? (apiErr?.code === 'unauthorized' ? EXIT.auth : EXIT.failure));
}

/** The password from --password-stdin (first line of stdin), --password, or PARLEY_PASSWORD. */
export async function readPassword(flags: ClientFlags & { password?: string; passwordStdin?: boolean }): Promise<string> {
  if (flags.passwordStdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
    if (!line) fail(flags, new Error('--password-stdin: stdin was empty'), EXIT.usage);
    return line;
  }
  if (flags.password) return flags.password;
  if (process.env.PARLEY_PASSWORD) return process.env.PARLEY_PASSWORD;
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const typed = await askHidden('Password: ');
    if (typed) return typed;
  }
  fail(flags, new Error('give the password with --password-stdin, --password or PARLEY_PASSWORD'), EXIT.usage);
}

/** Ask on the terminal without echoing what is typed (the prompt goes to stderr). */
function askHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    let typed = '';
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (value: string) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(typed);
        if (ch === '\u0003') {
          done('');
          process.exit(130);
        }
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else if (ch >= ' ') typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Options every client command takes. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .option('-s, --server <url>', `server base URL (default: PARLEY_URL, the saved session, or ${DEFAULT_SERVER})`)
    .option('--json', 'machine-readable output: JSON on stdout, JSON errors on stderr')
    .exitOverride((err) => {
      // Commander's own parse errors are usage errors; help and version are not errors at all.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(EXIT.ok);
      process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
    });
}

export function registerLogin(program: Command): void {
  clientOptions(
    program
      .command('login')
      .description(`sign in and save the session token in ${path.join('$PARLEY_CONFIG_DIR (~/.config/parley)', 'session.json')} (mode 0600)`)
      .argument('[username]', 'your username (or PARLEY_USERNAME)')
      .option('--password-stdin', 'read the password from the first line of stdin')
      .option('--password <password>', 'the password (visible to other local users: prefer --password-stdin)')
      .option('--device-name <name>', 'how this device shows in your session list', 'parley cli')
      .option('--token <token>', 'save this existing session token instead of signing in'),
  ).action(async (username: string | undefined, flags: ClientFlags & { password?: string; passwordStdin?: boolean; deviceName: string; token?: string }) => {
    const server = serverUrl(flags);
    const api = new ParleyApi({ baseUrl: server });
    try {
      let session: SavedSession;
      if (flags.token) {
        api.setToken(flags.token);
        const me = await api.me.get();
        const current = (await api.sessions.list()).find((s) => s.current);
        session = { server, token: flags.token, userId: me.id, username: me.username, sessionId: current?.id ?? '', savedAt: new Date().toISOString() };
      } else {
        const name = username ?? process.env.PARLEY_USERNAME;
        if (!name) fail(flags, new Error('give a username (or PARLEY_USERNAME)'), EXIT.usage);
        const password = await readPassword(flags);
        const result = await api.accounts.signIn({ username: name, password, deviceName: flags.deviceName });
        session = { server, token: result.session.token, userId: result.user.id, username: result.user.username, sessionId: result.session.id, savedAt: new Date().toISOString() };
      }
      const file = saveSession(session);
      output(flags, { user: { id: session.userId, username: session.username }, sessionId: session.sessionId, server, file }, `signed in to ${server} as @${session.username}; session saved in ${file}`);
    } catch (err) {
      fail(flags, err);
    }
  });

  clientOptions(
    program
      .command('logout')
      .description('sign this device out (revoke the saved session) and delete the saved token'),
  ).action(async (flags: ClientFlags) => {
    const saved = loadSession();
    if (!saved) {
      output(flags, { signedOut: false }, 'not signed in');
      return;
    }
    const api = new ParleyApi({ baseUrl: saved.server, token: saved.token });
    try {
      if (saved.sessionId) await api.sessions.revoke(saved.sessionId);
    } catch (err) {
      // An already revoked token is as signed out as it gets; anything else is worth saying.
      if (!(err instanceof ApiError && (err.code === 'unauthorized' || err.code === 'not_found'))) fail(flags, err);
    }
    forgetSession();
    output(flags, { signedOut: true }, `signed out of ${saved.server}`);
  });
}
