import type { Command } from 'commander';
import { ConfigError, createServer, describeConfig, loadConfig } from '@parley/server';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the server (HTTP API, WebSocket and the web app); configured by PARLEY_* environment variables')
    .action(async () => {
      let config;
      try {
        config = loadConfig();
      } catch (err) {
        if (err instanceof ConfigError) {
          console.error(err.message);
          process.exit(2);
        }
        throw err;
      }
      const server = await createServer(config);
      const url = await server.listen();
      server.ctx.log.info({ url, storage: config.databaseUrl ? 'postgres' : 'sqlite', dataDir: config.dataDir }, 'parley is listening');
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        server.ctx.log.info({ signal }, 'shutting down');
        await server.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });

  program
    .command('config')
    .description('print the effective configuration (secrets redacted)')
    .action(() => {
      for (const entry of describeConfig(loadConfig())) {
        console.log(`${entry.env.padEnd(32)} ${JSON.stringify(entry.value) ?? '(unset)'}\n${' '.repeat(33)}${entry.description}`);
      }
    });
}
