import Fastify, { type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { authPlugin } from './auth/auth-plugin.ts';
import { Authenticator } from './auth/authenticator.ts';
import { CachedKeyLookup } from './auth/cached-key-lookup.ts';
import type { KeyStore } from './auth/key-store.ts';
import { installBodyParsers } from './http/body-parsers.ts';
import { errorBodySchema } from './http/error-body.ts';
import { frameworkErrorHandler, installErrorHandlers, MAX_PARAM_LENGTH } from './http/error-handler.ts';
import { collectProcessMetrics, installRequestTiming } from './http/http-metrics.ts';
import { registerOpenApi } from './http/openapi.ts';
import { registerRateLimit } from './http/rate-limit.ts';
import { type IngestSink, ingestRoutes } from './routes/ingest-routes.ts';
import { operationsRoutes, type Probe } from './routes/operations-routes.ts';

export interface AppOptions {
  config: Config;
  log: Logger;
  /** Where API keys live: CassandraKeyStore in production. */
  keyStore: KeyStore;
  /** Readiness checks behind GET /ready, by name (kafka, cassandra). */
  probes: Record<string, Probe>;
  /** The ingest pipeline (or anything with its `enqueue`); without one, POST /v1/readings is not served. */
  ingest?: IngestSink;
  /**
   * More API route plugins (the view queries...). Each is registered inside the protected
   * context: authenticated, rate-limited, errors mapped, schemas in OpenAPI — with no code of its own.
   */
  routes?: FastifyPluginAsync[];
  /** Open plugins with no data of their own (the dashboard page): registered beside /health, without auth. */
  pages?: FastifyPluginAsync[];
  /** Overrides for tests (e.g. a clock for the key cache). */
  now?: () => number;
}

/**
 * The serving API as a Fastify instance, not listening: `listen` is the caller's (cli/serve-command.ts);
 * tests use `app.inject()`. Structure:
 *
 *   root: error handler, body parsers (JSON with positions, NDJSON), body limit, request timing, OpenAPI
 *   ├─ operations (open): GET /health, /ready, /metrics, /docs
 *   ├─ ...opts.pages (open): the dashboard at /
 *   └─ protected: auth (onRequest) → rate limit per key → routes
 *      ├─ ingest: POST /v1/readings
 *      └─ ...opts.routes
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const serving = opts.config.serving;
  const app = Fastify({
    loggerInstance: opts.log,
    bodyLimit: serving.bodyLimitBytes,
    // Per-request logs would dominate the log at ingest rates; /metrics has the latencies and the
    // error handler logs every 5xx.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests sent to 127.0.0.1 by a reverse proxy carry the client address in X-Forwarded-For
    // only when the operator says so; default: trust nobody.
    trustProxy: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Router errors (bad percent-encoding, over-long path parameters) get the same {code, message} body.
    frameworkErrors: frameworkErrorHandler(serving.bodyLimitBytes),
  }) as unknown as FastifyInstance;

  installErrorHandlers(app, serving.bodyLimitBytes);
  installBodyParsers(app);
  installRequestTiming(app);
  collectProcessMetrics();
  app.addSchema(errorBodySchema);
  await registerOpenApi(app);

  await app.register(operationsRoutes, { probes: opts.probes, probeTimeoutMs: serving.probeTimeoutMs });
  for (const page of opts.pages ?? []) await app.register(page);

  const authenticator = new Authenticator({
    keys: new CachedKeyLookup(opts.keyStore, serving.auth.cacheTtlMs, opts.now),
    required: serving.auth.required,
  });
  await app.register(async (api) => {
    await api.register(authPlugin, { authenticator });
    await registerRateLimit(api, serving.rateLimit);
    if (opts.ingest) await api.register(ingestRoutes, { sink: opts.ingest, maxReadingsPerRequest: serving.maxReadingsPerRequest });
    for (const routes of opts.routes ?? []) await api.register(routes);
  });

  return app;
}
