import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyPluginAsync, RawServerDefault, RouteHandlerMethod } from 'fastify';
import type { Meter } from '../../schemas/reading.ts';
import { periodsBetween } from '../../speed-layer/store/speed-store.ts';
import { errorResponses } from '../http/error-body.ts';
import { CONTENT_TYPES, chooseFormat, FORMATS, provenanceHeaders } from '../query/series-formats.ts';
import { resolveView } from '../query/series-params.ts';
import type { QuerySources } from '../query/sources.ts';
import { totalsArrow, totalsCsv, totalsJson } from '../query/totals-formats.ts';
import { MAX_KEY_PERIODS, MAX_LIMIT, parseTotalsQuery, type TotalsParams } from '../query/totals-params.ts';
import { runTotals } from '../query/totals-query.ts';
import { provenanceSchema } from './view-routes.ts';

const tags = ['views'];

const totalsResponse = {
  type: 'object',
  properties: {
    view: { type: 'string' },
    grain: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    parent: { type: ['string', 'null'] },
    by: { type: ['string', 'null'] },
    order: { type: ['string', 'null'] },
    measures: { type: 'array', items: { type: 'string' } },
    provenance: provenanceSchema,
    rows: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          key: { type: 'string', description: 'the row key, usable as key= of the series route' },
          dimensions: { type: 'object', additionalProperties: { type: 'string' } },
          meters: { type: 'integer', description: 'registry meters in this row' },
          buckets: { type: 'integer', description: 'buckets of [from, to) that hold data' },
          values: { type: 'object', additionalProperties: { type: ['number', 'null'] } },
        },
        required: ['key', 'dimensions', 'meters', 'buckets', 'values'],
      },
    },
  },
  required: ['view', 'grain', 'from', 'to', 'parent', 'by', 'order', 'measures', 'provenance', 'rows'],
} as const;

const commonQuery = {
  from: { type: 'string', description: 'YYYY-MM-DD or ISO date-time with Z/offset' },
  to: { type: 'string', description: 'exclusive, same forms as from' },
  grain: { type: 'string', description: "the view grain the totals add up (default: its finest); local grains follow each meter's zone" },
  measures: { type: 'string', description: 'comma-separated measure names (default: all)' },
  parent: { type: 'string', description: 'only rows whose meters have <dimension>=<value>, e.g. region=London, site=S1' },
  format: { type: 'string', description: `${FORMATS.join(' | ')}; overrides Accept` },
} as const;

type Params = { Params: { view: string }; Querystring: TotalsParams & { format?: string } };

/**
 * Totals over a range for many rows of a view (query/totals-query.ts):
 * GET /v1/views/:view/top (ranked by a measure) and GET /v1/views/:view/keys (every row, by key,
 * e.g. all meters of a site). Rows come from the meter registry, so a row without data is listed
 * with null values rather than missing.
 */
export function totalsRoutes(sources: QuerySources, meters: () => Iterable<Meter>): FastifyPluginAsync {
  return async (app) => {
    const handle =
      (ranked: boolean): RouteHandlerMethod<RawServerDefault, IncomingMessage, ServerResponse, Params> =>
      async (request, reply) => {
        const view = resolveView(request.params.view);
        const query = parseTotalsQuery(view, request.query, meters(), (g, a, b) => periodsBetween(g, a, b).length, ranked);
        const format = chooseFormat(request.query.format, request.headers.accept);
        const result = await runTotals(sources, query);
        reply
          .headers(provenanceHeaders(result, format !== 'json'))
          .header('vary', 'Accept')
          .type(CONTENT_TYPES[format]);
        if (format === 'csv') return totalsCsv(result);
        if (format === 'arrow') return Buffer.from(totalsArrow(result));
        return totalsJson(result);
      };
    const routeSchema = (summary: string, description: string, extra: Record<string, unknown>) => ({
      tags,
      summary,
      description: `${description} At most ${MAX_KEY_PERIODS} rows × storage periods per request.`,
      params: { type: 'object', properties: { view: { type: 'string' } }, required: ['view'] },
      querystring: { type: 'object', properties: { ...commonQuery, ...extra } },
      response: {
        200: {
          description: 'the totals',
          content: {
            'application/json': { schema: totalsResponse },
            'text/csv': { schema: { type: 'string' } },
            'application/vnd.apache.arrow.stream': { schema: { type: 'string', format: 'binary' } },
          },
        },
        ...errorResponses(400, 401, 403, 404, 406, 429, 503),
      },
    });

    app.get<Params>(
      '/v1/views/:view/top',
      {
        schema: routeSchema(
          'The top N rows of a view by a measure over [from, to), batch ⊕ speed',
          'Ranked totals; rows without data come last.',
          {
            by: { type: 'string', description: 'the measure to rank by' },
            limit: { type: 'string', description: `1..${MAX_LIMIT}, default 10` },
            order: { type: 'string', description: 'desc (default) | asc' },
          },
        ),
      },
      handle(true),
    );
    app.get<Params>(
      '/v1/views/:view/keys',
      {
        schema: routeSchema(
          'Every row of a view (optionally under a parent) with its totals over [from, to)',
          'Group listings for drill-down: all meters of a site (meter_15m, parent=site=S1), all sites of a region (site_hourly, parent=region=London).',
          {},
        ),
      },
      handle(false),
    );
  };
}
