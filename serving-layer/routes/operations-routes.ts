import type { FastifyPluginAsync } from 'fastify';
import { MeterflowError } from '../../core/errors.ts';
import { errorRef } from '../http/error-body.ts';
import { metricsRegistry } from '../http/http-metrics.ts';

/** A readiness check: resolves when the dependency answers, rejects (with why) when it does not. */
export type Probe = () => Promise<unknown>;

export interface OperationsRoutesOptions {
  /** By name, e.g. { kafka, cassandra }. */
  probes: Record<string, Probe>;
  probeTimeoutMs: number;
}

const checksSchema = {
  type: 'object',
  description: 'Each dependency: up, or down with why',
  additionalProperties: {
    type: 'object',
    properties: { status: { type: 'string', enum: ['up', 'down'] }, error: { type: 'string' } },
    required: ['status'],
  },
} as const;

// Operations endpoints carry no data, so they stay open (load balancers and Prometheus call them
// without keys); `security: []` says so in the OpenAPI document.
const open = { tags: ['operations'], security: [] };

/** GET /health (the process answers), GET /ready (its dependencies answer), GET /metrics (Prometheus). */
export const operationsRoutes: FastifyPluginAsync<OperationsRoutesOptions> = async (app, opts) => {
  app.get(
    '/health',
    {
      schema: {
        ...open,
        summary: 'Liveness: the process is up and serving HTTP',
        response: { 200: { type: 'object', properties: { status: { type: 'string', const: 'ok' } }, required: ['status'] } },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        ...open,
        summary: 'Readiness: Kafka and Cassandra answer; 503 names the ones that do not',
        response: {
          200: {
            type: 'object',
            properties: { status: { type: 'string', const: 'ready' }, checks: checksSchema },
            required: ['status', 'checks'],
          },
          503: errorRef,
        },
      },
    },
    async (_request, reply) => {
      const names = Object.keys(opts.probes);
      const results = await Promise.all(names.map((name) => runProbe(opts.probes[name] as Probe, opts.probeTimeoutMs)));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i]]));
      const down = names.filter((_, i) => results[i]?.status === 'down');
      if (down.length > 0) {
        const why = down.map((name) => `${name} is down (${checks[name]?.error})`).join('; ');
        const err = new MeterflowError('MF_SERVICE_NOT_READY', `not ready: ${why}`, { details: { down, checks } });
        return reply.status(503).header('retry-after', '5').send(err.toJSON());
      }
      return { status: 'ready' as const, checks };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        ...open,
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: { 200: { type: 'string' } },
      },
    },
    async (_request, reply) => {
      reply.type(metricsRegistry.contentType);
      return metricsRegistry.metrics();
    },
  );
};

async function runProbe(probe: Probe, timeoutMs: number): Promise<{ status: 'up' | 'down'; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'up' };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
