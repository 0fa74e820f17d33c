import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { ApiError, backoffDelay, plainCodec, type ParleyApi } from '@parley/sdk';
import { EXIT, clientOptions, fail, output, signedInApi, type ClientFlags } from './login.ts';

/** Attempts of one send before giving up on a transient failure (same clientId each time). */
const ATTEMPTS = 5;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `@username` → the direct conversation with them (opened or reused); anything else is a conversation id. */
async function resolveTarget(api: ParleyApi, target: string): Promise<string> {
  if (!target.startsWith('@')) return target;
  const username = target.slice(1).toLowerCase();
  if (!username) throw new ApiError('invalid_request', 'an empty @username');
  const found = (await api.users.search(username, 50)).find((u) => u.username === username);
  if (!found) throw new ApiError('not_found', `no user @${username}`);
  return (await api.conversations.create({ type: 'direct', userId: found.id })).id;
}

export function registerSend(program: Command): void {
  clientOptions(
    program
      .command('send')
      .description('send a text message to a conversation, or to @username (a direct conversation is opened or reused)')
      .argument('<to>', 'a conversation id or @username')
      .argument('<text...>', 'the message (several words are joined by spaces; `-` reads stdin)')
      .option('--reply-to <messageId>', 'reply to a message'),
  ).action(async (to: string, words: string[], flags: ClientFlags & { replyTo?: string }) => {
    const { api } = signedInApi(flags);
    const text = words.length === 1 && words[0] === '-' ? await readStdin() : words.join(' ');
    if (!text.trim()) fail(flags, new Error('the message is empty'), EXIT.usage);
    try {
      const conversationId = await resolveTarget(api, to);
      const clientId = randomUUID();
      const content = await plainCodec.encode(conversationId, { type: 'text', text });
      const body = { clientId, kind: 'message' as const, content, ...(flags.replyTo ? { refs: { replyTo: flags.replyTo } } : {}) };
      for (let attempt = 0; ; attempt++) {
        try {
          const ack = await api.messages.post(conversationId, body);
          output(flags, { conversationId, clientId, ...ack }, `sent ${ack.id} (seq ${ack.seq}) to ${conversationId}`);
          return;
        } catch (err) {
          // Retrying with the same clientId is safe: the server stores the message once and answers the first ack.
          if (!(err instanceof ApiError) || !err.transient || attempt + 1 >= ATTEMPTS) throw err;
          await new Promise((r) => setTimeout(r, Math.max(backoffDelay(attempt, { minDelayMs: 250, maxDelayMs: 4000 }), (err.retryAfter ?? 0) * 1000)));
        }
      }
    } catch (err) {
      fail(flags, err);
    }
  });
}
