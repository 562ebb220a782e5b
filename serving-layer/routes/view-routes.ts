import type { FastifyPluginAsync } from 'fastify';
import { VIEWS } from '../../schemas/views/index.ts';
import { errorResponses } from '../http/error-body.ts';
import {
  CONTENT_TYPES,
  chooseFormat,
  FORMATS,
  provenanceHeaders,
  seriesArrow,
  seriesCsv,
  seriesJsonText,
} from '../query/series-formats.ts';
import { MAX_BUCKETS, parseSeriesQuery, resolveView, type SeriesParams } from '../query/series-params.ts';
import { runSeries } from '../query/series-query.ts';
import type { QuerySources } from '../query/sources.ts';

const tags = ['views'];

const viewsResponse = {
  type: 'object',
  properties: {
    views: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          description: { type: 'string' },
          dimensions: { type: 'array', items: { type: 'string' } },
          grains: { type: 'array', items: { type: 'string' }, description: 'finest first; the first is the default grain' },
          measures: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                description: { type: 'string' },
                kind: { type: 'string', enum: ['monoid', 'derived'] },
              },
              required: ['name', 'description', 'kind'],
            },
          },
        },
        required: ['name', 'description', 'dimensions', 'grains', 'measures'],
      },
    },
  },
  required: ['views'],
} as const;

const offsetsSchema = {
  type: 'object',
  additionalProperties: { type: 'integer' },
  description: 'readings partition → last offset included',
};

export const provenanceSchema = {
  type: 'object',
  properties: {
    batchVersion: { type: 'integer', description: 'the batch version answered from; 0: no batch part' },
    speedGeneration: { type: ['integer', 'null'], description: 'the speed generation answered from; null: no speed part' },
    stale: { type: 'boolean', description: 'part of the accepted readings is knowingly missing (see warnings)' },
    warnings: { type: 'array', items: { type: 'string' } },
    batch: {
      type: ['object', 'null'],
      properties: {
        version: { type: 'integer' },
        offsets: offsetsSchema,
        createdAt: { type: 'string' },
        dataAsOf: { type: 'string' },
        newestBucket: { type: ['string', 'null'] },
      },
    },
    speed: {
      type: ['object', 'null'],
      properties: {
        generation: { type: 'integer' },
        partitions: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              partition: { type: 'integer' },
              fromOffset: { type: 'integer' },
              throughOffset: { type: 'integer' },
              caughtUp: { type: 'boolean' },
              updatedAt: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    asOf: { type: ['string', 'null'] },
    freshnessMs: { type: ['number', 'null'] },
  },
  required: ['batchVersion', 'speedGeneration', 'stale', 'warnings', 'batch', 'speed', 'asOf', 'freshnessMs'],
} as const;

const seriesResponse = {
  type: 'object',
  properties: {
    view: { type: 'string' },
    key: { type: 'string' },
    grain: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    measures: { type: 'array', items: { type: 'string' } },
    provenance: provenanceSchema,
    buckets: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          bucket: { type: 'string', description: 'bucket start (ISO); local grains: the local date' },
          provisional: { type: 'boolean' },
          values: { type: 'object', additionalProperties: { type: ['number', 'null'] } },
        },
        required: ['bucket', 'provisional', 'values'],
      },
    },
  },
  required: ['view', 'key', 'grain', 'from', 'to', 'measures', 'provenance', 'buckets'],
} as const;

/**
 * The analyst query API: GET /v1/views and GET /v1/views/:view/series (batch ⊕ speed, see
 * query/series-query.ts). A routes plugin for buildApp's `routes`: it runs in the protected
 * context (auth, rate limit, error mapping).
 */
export function viewRoutes(sources: QuerySources & { close?: () => void }): FastifyPluginAsync {
  return async (app) => {
    if (sources.close) app.addHook('onClose', async () => sources.close?.());

    app.get(
      '/v1/views',
      {
        schema: {
          tags,
          summary: 'Every view: dimensions, grains, measures',
          response: { 200: viewsResponse, ...errorResponses(401, 403, 429) },
        },
      },
      async () => ({
        views: VIEWS.map((v) => ({
          name: v.name,
          description: v.description,
          dimensions: [...v.dimensions],
          grains: [...v.grains],
          measures: v.measures.map((m) => ({ name: m.name, description: m.description, kind: m.kind })),
        })),
      }),
    );

    app.get<{ Params: { view: string }; Querystring: SeriesParams & { format?: string } }>(
      '/v1/views/:view/series',
      {
        schema: {
          tags,
          summary: 'A time series of one view row: batch ⊕ speed per bucket, with provenance',
          description: `Buckets whose start lies in [from, to) and that hold data (empty buckets are left out), at most ${MAX_BUCKETS} buckets per request. JSON, CSV (header + rows) or an Arrow IPC stream, by format= or Accept; CSV and Arrow carry the provenance in x-meterflow-* headers (Arrow also in its schema metadata).`,
          params: {
            type: 'object',
            properties: { view: { type: 'string', description: 'a view name from GET /v1/views' } },
            required: ['view'],
          },
          querystring: {
            type: 'object',
            properties: {
              key: {
                type: 'string',
                description:
                  'the row: dim=value pairs joined by "|" (\\ escapes | = \\), e.g. meter=lcl:MAC000002; optional for the fleet view',
              },
              from: {
                type: 'string',
                description: 'YYYY-MM-DD (UTC midnight; the local date for local grains) or ISO date-time with Z/offset',
              },
              to: { type: 'string', description: 'exclusive, same forms as from' },
              grain: { type: 'string', description: "one of the view's grains (default: its finest)" },
              measures: { type: 'string', description: 'comma-separated measure names (default: all)' },
              format: { type: 'string', description: `${FORMATS.join(' | ')}; overrides Accept` },
            },
          },
          response: {
            200: {
              description: 'the series',
              content: {
                'application/json': { schema: seriesResponse },
                'text/csv': { schema: { type: 'string' } },
                'application/vnd.apache.arrow.stream': { schema: { type: 'string', format: 'binary' } },
              },
            },
            ...errorResponses(400, 401, 403, 404, 406, 429, 503),
          },
        },
      },
      async (request, reply) => {
        const view = resolveView(request.params.view);
        const query = parseSeriesQuery(view, request.query);
        const format = chooseFormat(request.query.format, request.headers.accept);
        const result = await runSeries(sources, query);
        reply
          .headers(provenanceHeaders(result, format !== 'json'))
          .header('vary', 'Accept')
          .type(CONTENT_TYPES[format]);
        if (format === 'csv') return seriesCsv(result);
        if (format === 'arrow') return Buffer.from(seriesArrow(result));
        return seriesJsonText(result);
      },
    );
  };
}
