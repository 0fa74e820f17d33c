import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { Config } from './config/config.ts';
import type { AppContext } from './context.ts';
import { loggerOptions } from './log.ts';
import { createMetrics } from './metrics.ts';
import { openDatabase, type Database } from './storage/db.ts';
import type { Bus } from './bus/bus.ts';
import { MemoryBus } from './bus/memory.ts';
import { RedisBus } from './bus/redis.ts';
import { buildHttp } from './http/app.ts';
import { createGateway } from './ws/gateway.ts';
import { gatewayRoutes } from './ws/routes.ts';
import { accountLifecycleRoutes, accountsRoutes, createAccountLifecycle, createAccounts } from './modules/accounts/index.ts';
import { attachmentsModule, attachmentsRoutes, startPeriodic } from './modules/attachments/index.ts';
import { createPins, pinsRoutes } from './modules/pins/index.ts';
import { createRetention } from './modules/retention/index.ts';
import { createGraph, createGraphRoutes } from './modules/graph/index.ts';
import { createRealtime, publishEvent } from './modules/realtime/index.ts';
import { conversationsRoutes, createConversations } from './modules/conversations/index.ts';
import { createMessages, messagesRoutes } from './modules/messages/index.ts';
import { createSafety, MemoryRateLimiter, RedisRateLimiter, rateRules, type RateLimiter } from './modules/safety/index.ts';

export interface ServerOptions {
  /** A logger to use instead of a new one (tests pass a silent or capturing one). */
  logger?: Logger;
  /** An already-open database (tests share one across server restarts). */
  database?: Database;
  bus?: Bus;
  limits?: RateLimiter;
}

export interface ParleyServer {
  app: FastifyInstance;
  ctx: AppContext;
  /** Listen on the configured host and port; resolves to the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** The composition root: config → storage → bus → modules → HTTP and WebSocket. */
export async function createServer(config: Config, options: ServerOptions = {}): Promise<ParleyServer> {
  const log = options.logger ?? pino(loggerOptions(config.logLevel));
  const database = options.database ?? (await openDatabase(config));
  // Several processes behind a load balancer share events through Redis; one process needs nothing.
  const bus = options.bus ?? (config.redisUrl ? new RedisBus(config.redisUrl, { log }) : new MemoryBus());
  const metrics = createMetrics();

  const ctx: AppContext = {
    config,
    database,
    db: database.db,
    log,
    bus,
    metrics,
    // Shared buckets when several processes serve behind a load balancer.
    limits: options.limits ?? (config.redisUrl ? new RedisRateLimiter(rateRules(config), config.redisUrl) : new MemoryRateLimiter(rateRules(config))),
    // Each event goes to the topic of every user it names (see modules/realtime/routing.ts).
    emit: (event) => publishEvent(bus, event, log),
  };

  const accounts = createAccounts(ctx);
  const graph = createGraph(ctx);
  const safety = createSafety(ctx);
  const attachments = attachmentsModule(ctx);
  const conversations = createConversations(ctx, { graph, attachments });
  const lifecycle = createAccountLifecycle(ctx, { accounts, groups: conversations, uploads: attachments });
  const messages = createMessages(ctx, { graph, conversations, attachments });
  const realtime = createRealtime(ctx, { conversations, graph });
  const gateway = createGateway(ctx, bus, { auth: accounts, realtime, conversations, messages });
  const pins = createPins(ctx, { conversations });
  const retention = createRetention(ctx, { attachments, audience: conversations.memberIds });

  const app = await buildHttp(ctx, {
    auth: accounts,
    routes: [accountsRoutes(accounts, graph), accountLifecycleRoutes(lifecycle), createGraphRoutes(graph), safety.routes, conversationsRoutes(conversations), messagesRoutes(messages), gatewayRoutes(), attachmentsRoutes(attachments), pinsRoutes(pins)],
  });
  gateway.attach(app.server);

  // Background sweeps live and die with the server.
  const sweepers = [
    startPeriodic('attachment orphans', config.attachmentSweepIntervalMs, () => attachments.sweepOrphans(), log),
    startPeriodic('expired envelopes', config.retentionSweepIntervalMs, () => retention.sweepOnce(), log),
  ];

  let closed = false;
  return {
    app,
    ctx,
    async listen() {
      // A reconnect storm opens thousands of connections at once: Node's default backlog (511)
      // would drop the SYNs past it and clients would wait out their connect timeouts.
      await app.listen({ port: config.port, host: config.host, backlog: 4096 });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      return `http://${host}:${port}`;
    },
    async close() {
      if (closed) return;
      closed = true;
      // Sockets first (1001, and their last presence) while the database and bus are still up.
      await gateway.close();
      await app.close();
      // Sends already in a batch commit and get their ack before the database closes.
      await messages.close();
      await Promise.all(sweepers.map((s) => s.stop()));
      await realtime.close();
      if (!options.bus) await bus.close();
      if (!options.limits) await ctx.limits.close();
      if (!options.database) await database.close();
    },
  };
}
