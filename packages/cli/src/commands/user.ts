import type { Command } from 'commander';
import { ParleyApi } from '@parley/sdk';
import { clientOptions, fail, output, readPassword, saveSession, serverUrl, type ClientFlags } from './login.ts';

export function registerUser(program: Command): void {
  const user = program.command('user').description('manage accounts through the server’s HTTP API');

  clientOptions(
    user
      .command('create')
      .description('create an account; prints the user (stores nothing unless --save)')
      .argument('<username>', '3–32 of a-z 0-9 _ .')
      .option('--password-stdin', 'read the password from the first line of stdin')
      .option('--password <password>', 'the password (visible to other local users: prefer --password-stdin)')
      .option('--display-name <name>', 'the name people see')
      .option('--device-name <name>', 'the name of the first session', 'parley cli')
      .option('--save', 'keep the new session as this CLI’s login (like `parley login`)'),
  ).action(async (username: string, flags: ClientFlags & { password?: string; passwordStdin?: boolean; displayName?: string; deviceName: string; save?: boolean }) => {
    const server = serverUrl(flags);
    const password = await readPassword(flags);
    const api = new ParleyApi({ baseUrl: server });
    try {
      const result = await api.accounts.signUp({ username, password, deviceName: flags.deviceName, ...(flags.displayName ? { displayName: flags.displayName } : {}) });
      let file: string | undefined;
      if (flags.save) {
        file = saveSession({ server, token: result.session.token, userId: result.user.id, username: result.user.username, sessionId: result.session.id, savedAt: new Date().toISOString() });
      }
      output(
        flags,
        { user: result.user, ...(file ? { file } : {}) },
        `created @${result.user.username} (${result.user.id})${result.user.displayName ? ` “${result.user.displayName}”` : ''}${file ? `; session saved in ${file}` : ''}`,
      );
    } catch (err) {
      fail(flags, err);
    }
  });
}
