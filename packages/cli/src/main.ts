#!/usr/bin/env node
import { Command } from 'commander';
import { registerAdmin } from './commands/admin.ts';
import { registerServe } from './commands/serve.ts';
import { registerListen } from './commands/listen.ts';
import { registerLogin } from './commands/login.ts';
import { registerSend } from './commands/send.ts';
import { registerUser } from './commands/user.ts';

const program = new Command();
program.name('parley').description('Parley: self-hostable private messaging').version('0.1.0');
registerServe(program);
registerAdmin(program);
registerUser(program);
registerLogin(program);
registerSend(program);
registerListen(program);

await program.parseAsync(process.argv);
