import { tableFromIPC } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { type MeasureStates, meter15m, siteHourly, VIEWS, zeroStates } from '../../schemas/views/index.ts';
import { buildApp } from '../app.ts';
import { MemoryKeyStore } from '../auth/key-store.ts';
import type { BatchSource, BatchVersionInfo, QuerySources, SpeedCheckpointInfo, SpeedSource } from '../query/sources.ts';
import { viewRoutes } from './view-routes.ts';

// Parameter handling, errors and formats of the query API over in-memory sources. The merge itself
// is tested on the real Kafka / Cassandra / Parquet path in serving-layer/query/series.int.test.ts.

const log = createLogger('test', 'silent');
const DAY = 86_400_000;
const JAN1 = Date.UTC(2013, 0, 1);
const KEY = 'meter=lcl:MAC000002';

const states = (importKwh: number, readingCount: number): MeasureStates => ({ ...zeroStates(meter15m), importKwh, readingCount });

class MemoryBatch implements BatchSource {
  constructor(readonly list: BatchVersionInfo[] = []) {}
  async versions() {
    return this.list;
  }
  async readRows(_v: number, _view: unknown, grain: string, key: string) {
    return grain === 'day' && key === KEY ? [{ bucket: JAN1, states: states(2, 48) }] : [];
  }
  async readKeysRows(v: number, view: unknown, grain: string, keys: readonly string[]) {
    return (await Promise.all(keys.map(async (key) => (await this.readRows(v, view, grain, key)).map((r) => ({ ...r, key }))))).flat();
  }
  async newestBucket() {
    return JAN1;
  }
}

class MemorySpeed implements SpeedSource {
  hang = false;
  async checkpoints(generation: number): Promise<SpeedCheckpointInfo[]> {
    if (this.hang) return new Promise(() => {});
    return [0, 1].map((partition) => ({ partition, throughOffset: 10 + generation, caughtUp: true, updatedAt: JAN1 + 2 * DAY }));
  }
  async readRows(_view: string, _g: number, key: string, grain: string) {
    if (grain !== 'day' || key !== KEY) return [];
    return [
      { bucket: JAN1 + DAY, partition: 0, states: states(1, 20) },
      { bucket: JAN1 + DAY, partition: 1, states: states(0.5, 10) },
    ];
  }
}

const v3 = new MemoryBatch([
  { version: 3, offsets: { 0: 5, 1: 7 }, createdAt: '2013-01-03T00:00:00.000Z', dataAsOf: '2013-01-02T12:00:00.000Z' },
]);

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function harness(sources: Partial<QuerySources> = {}, authRequired = false): Promise<FastifyInstance> {
  const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { serving: { auth: { required: authRequired } } } });
  const all: QuerySources = { batch: new MemoryBatch(), speed: new MemorySpeed(), partitions: 2, now: () => JAN1 + 3 * DAY, ...sources };
  app = await buildApp({ config, log, keyStore: new MemoryKeyStore(), probes: {}, routes: [viewRoutes(all)] });
  return app;
}

const series = (a: FastifyInstance, query: string, headers: Record<string, string> = {}, view = 'meter_15m') =>
  a.inject({ method: 'GET', url: `/v1/views/${view}/series?${query}`, headers });
const ok = `key=${encodeURIComponent(KEY)}&from=2013-01-01&to=2013-01-05&grain=day`;

describe('GET /v1/views', () => {
  it('lists every view with its dimensions, grains and measures', async () => {
    const res = await (await harness()).inject({ method: 'GET', url: '/v1/views' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.views.map((v: { name: string }) => v.name)).toEqual(VIEWS.map((v) => v.name));
    const meter = body.views[0];
    expect(meter.dimensions).toEqual(['meter']);
    expect(meter.grains).toEqual([...meter15m.grains]);
    expect(meter.grains[0]).toBe('15m');
    expect(meter.measures).toContainEqual({ name: 'importKwh', description: expect.any(String), kind: 'monoid' });
    expect(meter.measures).toContainEqual({ name: 'coverage', description: expect.any(String), kind: 'derived' });
  });

  it('documents both routes, with every answer format, in the OpenAPI document', async () => {
    const doc = (await (await harness()).inject('/docs/json')).json();
    expect(Object.keys(doc.paths['/v1/views/{view}/series'].get.responses['200'].content)).toEqual([
      'application/json',
      'text/csv',
      'application/vnd.apache.arrow.stream',
    ]);
    expect(doc.paths['/v1/views'].get.responses['200']).toBeDefined();
  });

  it('needs a key once auth is required', async () => {
    const res = await (await harness({}, true)).inject({ method: 'GET', url: '/v1/views' });
    expect(res.statusCode).toBe(401);
  });
});

describe('GET /v1/views/:view/series: parameters', () => {
  const cases: [string, string, number, RegExp, string?][] = [
    ['unknown view', ok, 404, /unknown view "nope"; known views: meter_15m, site_hourly/, 'nope'],
    ['missing key', 'from=2013-01-01&to=2013-01-02', 400, /key is required.*meter=/],
    ['malformed key', 'key=meter&from=2013-01-01&to=2013-01-02', 400, /malformed key "meter": expected dim=value/],
    ['unknown dimension', 'key=planet%3Dmars&from=2013-01-01&to=2013-01-02', 400, /unknown dimension "planet".*dimensions are meter/],
    ['dimension of another view', 'key=site%3DS1&from=2013-01-01&to=2013-01-02', 400, /unknown dimension "site"/],
    ['repeated dimension', 'key=meter%3Da%7Cmeter%3Db&from=2013-01-01&to=2013-01-02', 400, /repeats a dimension/],
    ['from = to', `key=${KEY}&from=2013-01-02&to=2013-01-02`, 400, /from .* must be before to/],
    ['from > to', `key=${KEY}&from=2013-01-03&to=2013-01-02`, 400, /must be before to/],
    ['missing from', `key=${KEY}&to=2013-01-02`, 400, /from is required: YYYY-MM-DD/],
    ['unparsable date', `key=${KEY}&from=yesterday&to=2013-01-02`, 400, /from "yesterday" is not a date: expected YYYY-MM-DD/],
    ['impossible date', `key=${KEY}&from=2013-02-30&to=2013-03-02`, 400, /from "2013-02-30" is not a date/],
    ['date-time without zone', `key=${KEY}&from=2013-01-01T00:00&to=2013-03-02`, 400, /is not a date.*with Z or an offset/],
    ['range too large', `key=${KEY}&from=2000-01-01&to=2013-01-01&grain=15m`, 400, /about 455\d+ buckets of grain 15m; at most 100000/],
    [
      'unknown grain',
      `key=${KEY}&from=2013-01-01&to=2013-01-02&grain=week`,
      400,
      /unknown grain "week"; view meter_15m serves 15m, hour, day/,
    ],
    [
      'unknown measure',
      `key=${KEY}&from=2013-01-01&to=2013-01-02&measures=importKwh,watts`,
      400,
      /unknown measure "watts"; view meter_15m has importKwh/,
    ],
    ['bad format', `${ok}&format=xml`, 400, /unknown format "xml"; allowed: json, csv, arrow/],
  ];
  it.each(cases)('%s → %i', async (_name, query, status, message, view) => {
    const res = await series(await harness(), query, {}, view);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().message).toMatch(message);
    expect(res.json().code).toMatch(/^MF_/);
  });

  it('refuses a grain the view does not serve, listing the served ones', async () => {
    const res = await series(await harness(), 'key=site%3DS1&from=2013-01-01&to=2013-01-02&grain=15m', {}, 'site_hourly');
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe(`view site_hourly does not serve grain "15m"; it serves ${siteHourly.grains.join(', ')}`);
    expect(res.json().grains).toEqual([...siteHourly.grains]);
  });

  it('answers 406 to an Accept header naming no served type', async () => {
    const res = await series(await harness(), ok, { accept: 'text/html' });
    expect(res.statusCode).toBe(406);
    expect(res.json()).toMatchObject({ code: 'MF_NOT_ACCEPTABLE', message: expect.stringMatching(/text\/csv.*format=json\|csv\|arrow/) });
  });

  it('takes key pairs in any order, the fleet view without a key, and local grains by local date', async () => {
    const a = await harness();
    const fleet = await series(a, 'from=2013-01-01&to=2013-02-01&grain=local-day', {}, 'fleet_hourly');
    expect(fleet.statusCode, fleet.body).toBe(200);
    expect(fleet.json()).toMatchObject({ key: 'fleet=all', grain: 'local-day', buckets: [] });
  });
});

describe('GET /v1/views/:view/series: answers and formats', () => {
  it('JSON: batch and speed buckets merged, speed partitions summed, with provenance', async () => {
    const res = await series(await harness({ batch: v3 }), `${ok}&measures=importKwh,readingCount`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = res.json();
    expect(body.buckets).toEqual([
      { bucket: '2013-01-01T00:00:00.000Z', provisional: true, values: { importKwh: 2, readingCount: 48 } },
      { bucket: '2013-01-02T00:00:00.000Z', provisional: true, values: { importKwh: 1.5, readingCount: 30 } },
    ]);
    expect(body.provenance).toMatchObject({
      batchVersion: 3,
      speedGeneration: 3,
      stale: false,
      warnings: [],
      batch: { version: 3, offsets: { 0: 5, 1: 7 }, newestBucket: '2013-01-01T00:00:00.000Z' },
      speed: {
        generation: 3,
        partitions: [
          { partition: 0, fromOffset: 6, throughOffset: 13, caughtUp: true },
          { partition: 1, fromOffset: 8, throughOffset: 13, caughtUp: true },
        ],
      },
      asOf: '2013-01-03T00:00:00.000Z',
      freshnessMs: DAY,
    });
  });

  it('CSV by Accept: header and rows, provenance in headers', async () => {
    const res = await series(await harness({ batch: v3 }), `${ok}&measures=importKwh,maxIntervalKwh`, { accept: 'text/csv' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.body).toBe(
      'bucket,provisional,importKwh,maxIntervalKwh\n2013-01-01T00:00:00.000Z,true,2,\n2013-01-02T00:00:00.000Z,true,1.5,\n',
    );
    expect(res.headers['x-meterflow-batch-version']).toBe('3');
    expect(res.headers['x-meterflow-stale']).toBe('false');
    expect(JSON.parse(res.headers['x-meterflow-provenance'] as string)).toMatchObject({ batchVersion: 3, speedGeneration: 3 });
  });

  it('Arrow IPC stream by format=arrow (wins over Accept), provenance in the schema metadata', async () => {
    const res = await series(await harness({ batch: v3 }), `${ok}&measures=importKwh&format=arrow`, { accept: 'text/csv' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.apache.arrow.stream');
    const table = tableFromIPC(res.rawPayload);
    expect(table.schema.fields.map((f) => f.name)).toEqual(['bucket', 'bucket_ms', 'provisional', 'importKwh']);
    expect(table.toArray().map((r) => r.toJSON())).toEqual([
      { bucket: '2013-01-01T00:00:00.000Z', bucket_ms: JAN1, provisional: true, importKwh: 2 },
      { bucket: '2013-01-02T00:00:00.000Z', bucket_ms: JAN1 + DAY, provisional: true, importKwh: 1.5 },
    ]);
    expect(JSON.parse(table.schema.metadata.get('meterflow.provenance') as string)).toMatchObject({ batchVersion: 3 });
  });

  it('speed unreachable (no answer within the timeout): batch alone, stale, with a warning', async () => {
    const speed = new MemorySpeed();
    speed.hang = true;
    const batch = new MemoryBatch([
      { version: 2, offsets: { 0: 5, 1: 7 }, createdAt: '2013-01-03T00:00:00.000Z', dataAsOf: '2013-01-02T12:00:00.000Z' },
    ]);
    const res = await series(await harness({ batch, speed, speedTimeoutMs: 50 }), `${ok}&measures=importKwh`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      provenance: {
        batchVersion: 2,
        speedGeneration: null,
        stale: true,
        speed: null,
        warnings: [expect.stringMatching(/speed layer unreachable.*batch version 2 alone/)],
      },
      buckets: [{ bucket: '2013-01-01T00:00:00.000Z', values: { importKwh: 2 } }],
    });
  });

  it('speed unreachable and no batch version: 503, retriable', async () => {
    const speed = new MemorySpeed();
    speed.hang = true;
    const res = await series(await harness({ speed, speedTimeoutMs: 50 }), ok);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toMatchObject({ code: 'MF_CASSANDRA_UNREACHABLE', message: expect.stringMatching(/no batch version/) });
  });
});
