import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, validatorCompiler, type FastifyPluginAsyncZod, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext, RouteAuth } from '../context.ts';
import { loggerOptions } from '../log.ts';
import { authHook, type Authenticator } from './auth.ts';
import { clientErrorHandler, errorHandler, toErrorBody } from './errors.ts';
import { INPUT_LIMITS, installInputLimits } from './limits.ts';
import { corsPreflight, securityHeaders, securityHeaderSetter } from './security.ts';
import { serializerCompiler } from './serializers.ts';

export interface RouteEntry {
  method: string;
  url: string;
  auth: RouteAuth;
  /** The route declares a body schema (it reads a JSON body). */
  body: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of the app (method, path pattern, who may call it). */
    routeTable: readonly RouteEntry[];
  }
}

export interface HttpOptions {
  auth: Authenticator;
  routes: FastifyPluginAsyncZod[];
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_WEB_DIR = path.resolve(HERE, '../../../web/dist');

/** The Fastify app: transport only. Modules bring their routes; this file routes, authenticates and maps errors. */
export async function buildHttp(ctx: AppContext, options: HttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log,
    trustProxy: ctx.config.trustProxy,
    bodyLimit: INPUT_LIMITS.bodyBytes,
    return503OnClosing: true,
    // A malformed URL or an overlong path parameter gets the API's error shape too.
    // These answers skip the onSend hooks, so they get the security headers here.
    frameworkErrors: (err, req, reply) => {
      securityHeaderSetter(ctx.config)(req, reply);
      return errorHandler(ctx)(err, req, reply);
    },
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();

  // Every route, as registered: the adversarial suites enumerate it so no route escapes them.
  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    // The web app's files (@fastify/static marks each with its file and root) are public:
    // the app signs in once it has loaded.
    const config = (route.config ?? {}) as { auth?: RouteAuth; file?: unknown; rootPath?: unknown };
    if (typeof config.file === 'string' && typeof config.rootPath === 'string' && config.auth === undefined) route.config = { ...config, auth: 'none' };
    for (const method of [route.method].flat()) {
      routeTable.push({ method, url: route.url, auth: (route.config as { auth?: RouteAuth } | undefined)?.auth ?? 'user', body: route.schema?.body !== undefined });
    }
  });

  installInputLimits(app);

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(ctx));
  app.decorateRequest('caller', null);
  app.addHook('onRequest', authHook(options.auth, ctx.config.operatorToken));
  app.addHook('onSend', securityHeaders(ctx.config));
  app.addHook('onResponse', (req, reply, done) => {
    ctx.metrics.httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Parley API', version: '1', description: 'Private messaging for social networks. See docs/ARCHITECTURE.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  app.get('/v1/health', {
    config: { auth: 'none' },
    schema: { tags: ['operations'], summary: 'Liveness: ok once the server accepts traffic', security: [], response: { 200: z.object({ status: z.literal('ok') }) } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/metrics', {
    config: { auth: 'none' },
    schema: { tags: ['operations'], summary: 'Prometheus metrics', security: [], hide: false },
  }, async (_req, reply) => reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()));

  app.get('/v1/openapi.json', {
    config: { auth: 'none' },
    schema: { tags: ['operations'], summary: 'This document', security: [] },
  }, async () => app.swagger());

  corsPreflight(app, ctx.config);
  for (const routes of options.routes) await app.register(routes);

  const webDir = ctx.config.webDir ?? DEFAULT_WEB_DIR;
  const hasWeb = existsSync(path.join(webDir, 'index.html'));
  if (hasWeb) await app.register(fastifyStatic, { root: webDir, wildcard: false, index: 'index.html' });

  app.setNotFoundHandler((req, reply) => {
    // The web app routes on the client: unknown non-API GETs get its index.html.
    if (hasWeb && req.method === 'GET' && !req.url.startsWith('/v1/') && !req.url.startsWith('/metrics')) {
      return reply.sendFile('index.html');
    }
    return reply.status(404).send(toErrorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  return app;
}

export { loggerOptions };
