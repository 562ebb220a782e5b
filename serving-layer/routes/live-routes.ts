import type { FastifyPluginAsync } from 'fastify';
import { MeterflowError } from '../../core/errors.ts';
import { GRAIN_IDS } from '../../schemas/views/index.ts';
import { errorResponses } from '../http/error-body.ts';
import type { LiveFilter, LiveHub } from '../live/live-hub.ts';
import { parseKey, resolveView } from '../query/series-params.ts';

/** A comment line every so often keeps proxies and load balancers from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;

/**
 * GET /v1/live: Server-Sent Events of the view changes the speed layer publishes, filtered by
 * view, key and grain. Each event is `event: change` with the LiveEvent JSON. Streams end when the
 * client goes away or the app closes.
 */
export function liveRoutes(hub: LiveHub, options: { heartbeatMs?: number } = {}): FastifyPluginAsync {
  return async (app) => {
    const open = new Set<() => void>();
    // preClose: before the server waits for connections to end, end ours.
    app.addHook('preClose', async () => {
      for (const end of [...open]) end();
    });

    app.get<{ Querystring: { view?: string; key?: string; grain?: string } }>(
      '/v1/live',
      {
        schema: {
          tags: ['live'],
          summary: 'Server-Sent Events of view changes (speed-layer flushes), filtered by view / key / grain',
          description:
            'Each event: `event: change`, data = { view, key, grain, bucket, measures, generation, cause, offsets }. `measures` is the flushed piece of one readings partition, not the served total: re-read the series for that. Heartbeat comment lines every 15 s. Use fetch() with the Authorization header (EventSource cannot send one).',
          querystring: {
            type: 'object',
            properties: {
              view: { type: 'string', description: 'only this view' },
              key: { type: 'string', description: 'only this row key (needs view), e.g. meter=lcl:MAC000002' },
              grain: { type: 'string', description: `only this grain: ${GRAIN_IDS.join(', ')}` },
            },
          },
          response: {
            200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            ...errorResponses(400, 401, 403, 404, 429),
          },
        },
      },
      async (request, reply) => {
        const filter = parseFilter(request.query);
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        raw.write(`: subscribed ${JSON.stringify(filter)}\nretry: 3000\n\n`);
        const unsubscribe = hub.subscribe(filter, (event) => {
          raw.write(`event: change\ndata: ${JSON.stringify(event)}\n\n`);
        });
        const heartbeat = setInterval(() => raw.write(`: heartbeat ${new Date().toISOString()}\n\n`), options.heartbeatMs ?? HEARTBEAT_MS);
        const end = () => {
          clearInterval(heartbeat);
          unsubscribe();
          open.delete(end);
          if (!raw.writableEnded) raw.end();
        };
        open.add(end);
        request.raw.on('close', end);
        raw.on('error', end);
      },
    );
  };
}

function parseFilter(q: { view?: string; key?: string; grain?: string }): LiveFilter {
  const filter: LiveFilter = {};
  if (q.view !== undefined && q.view !== '') filter.view = resolveView(q.view).name;
  if (q.key !== undefined && q.key !== '') {
    if (filter.view === undefined) {
      throw new MeterflowError(
        'MF_BAD_REQUEST',
        'key needs view: a row key is only meaningful within a view (e.g. view=meter_15m&key=meter=…)',
        {
          details: { key: q.key },
        },
      );
    }
    filter.key = parseKey(resolveView(filter.view), q.key);
  }
  if (q.grain !== undefined && q.grain !== '') {
    if (!(GRAIN_IDS as readonly string[]).includes(q.grain)) {
      throw new MeterflowError('MF_BAD_REQUEST', `unknown grain "${q.grain}"; grains: ${GRAIN_IDS.join(', ')}`, {
        details: { grain: q.grain, grains: GRAIN_IDS },
      });
    }
    filter.grain = q.grain;
  }
  return filter;
}
