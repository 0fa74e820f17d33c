import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@parley/server/testing';
import { startRelay } from '../../sdk/test/support.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/parley.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real `parley` binary as its own process. */
function parley(args: string[], env: Record<string, string>, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** A long-running `parley` process whose output is kept, so a line printed before anyone waits for it is not lost. */
function background(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const seen = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  let exited: number | null | undefined;
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].on('data', (d: Buffer) => {
      seen[stream] += d.toString();
      for (const w of [...waiters]) w();
    });
  }
  const closed = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      exited = code;
      for (const w of [...waiters]) w();
      resolve(code);
    }),
  );
  /** The `nth` complete line matching `pattern` printed on the stream (counted from the start of the process). */
  const line = (stream: 'stdout' | 'stderr', pattern: RegExp, nth = 1, timeoutMs = 90_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = seen[stream].split('\n').slice(0, -1).filter((l) => pattern.test(l))[nth - 1];
        if (found !== undefined) return done(() => resolve(found));
        if (exited !== undefined) return done(() => reject(new Error(`exited with ${exited} before ${pattern}; ${stream}: ${seen[stream]}; stderr: ${seen.stderr}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${pattern} on ${stream}; got: ${seen[stream]}`))), timeoutMs);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        fn();
      };
      waiters.add(check);
      check();
    });
  return { child, line, closed, seen };
}

describe('parley client commands (real processes, real server)', () => {
  let t: TestServer;
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const configDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-cli-'));
    dirs.push(dir);
    return dir;
  };
  beforeAll(async () => {
    t = await startTestServer('sqlite');
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await t?.close();
  });

  it('creates users, logs in (0600 token file), and a listener prints what a sender sends as a JSON line', { timeout: 300_000 }, async () => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const alice = `alice_${suffix}`;
    const bob = `bob_${suffix}`;
    const aliceDir = configDir();
    const bobDir = configDir();
    const base = { PARLEY_URL: t.url };

    const created = await parley(['user', 'create', alice, '--password-stdin', '--display-name', 'Alice', '--json'], { ...base, PARLEY_CONFIG_DIR: aliceDir }, 'correct horse battery\n');
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout).user).toMatchObject({ username: alice, displayName: 'Alice' });
    // Creating a user stores nothing unless told.
    expect(() => statSync(path.join(aliceDir, 'session.json'))).toThrow();

    const createdBob = await parley(['user', 'create', bob, '--password-stdin', '--save'], { ...base, PARLEY_CONFIG_DIR: bobDir }, 'correct horse battery\n');
    expect(createdBob.code, createdBob.stderr).toBe(0);
    expect(createdBob.stdout).toContain(`@${bob}`);

    const login = await parley(['login', alice, '--password-stdin', '--json'], { ...base, PARLEY_CONFIG_DIR: aliceDir }, 'correct horse battery\n');
    expect(login.code, login.stderr).toBe(0);
    const file = path.join(aliceDir, 'session.json');
    expect(JSON.parse(login.stdout)).toMatchObject({ user: { username: alice }, file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ server: t.url, username: alice, token: expect.any(String) });

    const listener = background(['listen'], { ...base, PARLEY_CONFIG_DIR: bobDir });
    children.push(listener.child);
    await listener.line('stderr', /listening/);

    const sent = await parley(['send', `@${bob}`, 'hello', 'from', 'the', 'cli', '--json'], { ...base, PARLEY_CONFIG_DIR: aliceDir });
    expect(sent.code, sent.stderr).toBe(0);
    const ack = JSON.parse(sent.stdout);
    expect(ack).toMatchObject({ id: expect.any(String), seq: expect.any(Number), conversationId: expect.any(String), clientId: expect.any(String) });

    const line = JSON.parse(await listener.line('stdout', /hello from the cli/));
    expect(line).toMatchObject({
      id: ack.id,
      seq: ack.seq,
      conversationId: ack.conversationId,
      clientId: ack.clientId,
      kind: 'message',
      content: { encoding: 'plain' },
      decoded: { type: 'text', text: 'hello from the cli' },
    });

    // The same @username reuses the direct conversation; a conversation id works too.
    const again = await parley(['send', ack.conversationId, 'second', '--json'], { ...base, PARLEY_CONFIG_DIR: aliceDir });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).conversationId).toBe(ack.conversationId);
    expect(JSON.parse(await listener.line('stdout', /"second"/)).seq).toBe(ack.seq + 1);
    listener.child.kill('SIGTERM');
    expect(await listener.closed).toBe(0);
    // One line per envelope, each once.
    expect(listener.seen.stdout.trim().split('\n').map((l) => JSON.parse(l).id)).toEqual([ack.id, JSON.parse(again.stdout).id]);
  });

  it('listen reconnects by itself and prints what was sent while it was cut off', { timeout: 300_000 }, async () => {
    const relay = await startRelay(t.url);
    const bob = await t.api.signUp('lbob');
    const alice = await t.api.signUp('lalice');
    const dm = await t.api.post('/v1/conversations', { type: 'direct', userId: bob.id }, alice.token);
    const say = (clientId: string, text: string) =>
      t.api.post(`/v1/conversations/${dm.body.id}/messages`, { clientId, kind: 'message', content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text }) } }, alice.token);

    const listener = background(['listen', '--conversation', dm.body.id], { PARLEY_URL: relay.url, PARLEY_TOKEN: bob.token, PARLEY_CONFIG_DIR: configDir() });
    children.push(listener.child);
    await listener.line('stderr', /listening/);
    expect((await say('l-1', 'while connected')).status).toBe(201);
    await listener.line('stdout', /while connected/);

    relay.pause();
    relay.cut();
    // The second "connecting": it noticed the cut.
    await listener.line('stderr', /connecting/, 2);
    expect((await say('l-2', 'while cut off')).status).toBe(201);
    relay.resume();
    const missed = JSON.parse(await listener.line('stdout', /while cut off/));
    expect(missed).toMatchObject({ clientId: 'l-2', decoded: { type: 'text', text: 'while cut off' } });
    listener.child.kill('SIGTERM');
    expect(await listener.closed).toBe(0);
    expect(listener.seen.stdout.trim().split('\n').map((l) => JSON.parse(l).clientId)).toEqual(['l-1', 'l-2']);
    await relay.close();
  });

  it('is scriptable: exit codes and errors on stderr', { timeout: 300_000 }, async () => {
    const dir = configDir();
    const env = { PARLEY_URL: t.url, PARLEY_CONFIG_DIR: dir };
    const name = `carol_${Math.random().toString(36).slice(2, 8)}`;

    const notSignedIn = await parley(['send', '@someone', 'hi'], env);
    expect(notSignedIn.code).toBe(3);
    expect(notSignedIn.stderr).toMatch(/unauthorized/);
    expect(notSignedIn.stdout).toBe('');

    const noPassword = await parley(['user', 'create', name], env);
    expect(noPassword.code).toBe(2);

    const badName = await parley(['user', 'create', 'x', '--password-stdin', '--json'], env, 'correct horse battery\n');
    expect(badName.code).toBe(1);
    expect(JSON.parse(badName.stderr).error).toMatchObject({ code: 'invalid_request' });

    expect((await parley(['user', 'create', name, '--password-stdin', '--save'], env, 'correct horse battery\n')).code).toBe(0);
    const taken = await parley(['user', 'create', name, '--password-stdin', '--json'], env, 'correct horse battery\n');
    expect(taken.code).toBe(1);
    expect(JSON.parse(taken.stderr).error.code).toBe('username_taken');

    const nobody = await parley(['send', '@nobody_at_all_here', 'hi', '--json'], env);
    expect(nobody.code).toBe(1);
    expect(JSON.parse(nobody.stderr).error.code).toBe('not_found');

    const wrongPassword = await parley(['login', name, '--password-stdin'], env, 'not the password\n');
    expect(wrongPassword.code).toBe(3);

    const unknownOption = await parley(['send', '--no-such-flag', '@x', 'hi'], env);
    expect(unknownOption.code).toBe(2);

    const listenElsewhere = await parley(['listen', '--conversation', 'not-mine'], env);
    expect(listenElsewhere.code).toBe(1);
    expect(listenElsewhere.stderr).toMatch(/not_found/);

    const logout = await parley(['logout', '--json'], env);
    expect(JSON.parse(logout.stdout)).toEqual({ signedOut: true });
    expect((await parley(['send', '@x', 'hi'], env)).code).toBe(3);
  });
});
