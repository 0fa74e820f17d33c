import type { Command } from 'commander';
import { ApiError } from '@parley/sdk';
import { createNodeClient } from '@parley/sdk/node';
import { EXIT, clientOptions, fail, signedInApi, type ClientFlags } from './login.ts';

export function registerListen(program: Command): void {
  clientOptions(
    program
      .command('listen')
      .description(
        'print every new envelope as one JSON line on stdout (the envelope plus `decoded`, its decoded content), reconnecting and catching up by itself; status on stderr',
      )
      .option('-c, --conversation <id>', 'only this conversation')
      .option('-q, --quiet', 'no status lines on stderr'),
  ).action(async (flags: ClientFlags & { conversation?: string; quiet?: boolean }) => {
    const { api, server, token } = signedInApi(flags);
    const status = (line: string) => {
      if (!flags.quiet) process.stderr.write(flags.json ? `${JSON.stringify({ status: line })}\n` : `parley: ${line}\n`);
    };
    if (flags.conversation) {
      try {
        await api.conversations.get(flags.conversation);
      } catch (err) {
        fail(flags, err);
      }
    }
    const client = createNodeClient({ baseUrl: server, token });
    client.on('message', (envelope, decoded) => {
      if (flags.conversation && envelope.conversationId !== flags.conversation) return;
      process.stdout.write(`${JSON.stringify({ ...envelope, decoded })}\n`);
    });
    client.on('connection', (state) => status(state));
    client.on('synced', () => status('listening'));
    client.on('session.revoked', () => fail(flags, new ApiError('unauthorized', 'this session was signed out'), EXIT.auth));
    const stop = () => {
      client.disconnect();
      process.exit(EXIT.ok);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      await client.connect();
    } catch (err) {
      fail(flags, err);
    }
  });
}
