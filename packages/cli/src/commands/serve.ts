import type { Command } from 'commander';

/**
 * The server is imported when one of these commands runs, not when the CLI starts: the client
 * commands (`send`, `listen`, `admin`, …) never load it, and start at once.
 */
const server = () => import('@parley/server');

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the server (HTTP API, WebSocket and the web app); configured by PARLEY_* environment variables')
    .action(async () => {
      const { ConfigError, createServer, loadConfig } = await server();
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
      const app = await createServer(config);
      const url = await app.listen();
      app.ctx.log.info({ url, storage: config.databaseUrl ? 'postgres' : 'sqlite', dataDir: config.dataDir }, 'parley is listening');
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        app.ctx.log.info({ signal }, 'shutting down');
        await app.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });

  program
    .command('config')
    .description('print the effective configuration (secrets redacted)')
    .action(async () => {
      const { describeConfig, loadConfig } = await server();
      for (const entry of describeConfig(loadConfig())) {
        console.log(`${entry.env.padEnd(32)} ${JSON.stringify(entry.value) ?? '(unset)'}\n${' '.repeat(33)}${entry.description}`);
      }
    });
}
