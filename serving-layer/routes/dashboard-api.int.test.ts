import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, listValue } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CassandraClient, createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { createKafka } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { MeterRegistryStore } from '../../core/meter-registry.ts';
import { createIngestPipeline } from '../../ingest/pipeline/create-pipeline.ts';
import { replayFiles } from '../../ingest/replay/replay.ts';
import { lclMeters } from '../../ingest/sources/index.ts';
import type { Meter } from '../../schemas/reading.ts';
import { SpeedLayer } from '../../speed-layer/speed-layer.ts';
import { DATA_DIR } from '../../test/support/data-dir.ts';
import { withFreshTopics } from '../../test/support/kafka-helpers.ts';
import { waitForSpeedCaughtUp, withFreshKeyspace } from '../../test/support/speed-helpers.ts';
import { testConfig } from '../../test/support/test-config.ts';
import type { LiveEvent } from '../live/live-hub.ts';
import { type RunningServer, startServer } from '../runtime/start-server.ts';

// The dashboard's API on the real path: two LCL households replayed onto Kafka, the speed layer
// folding them into Cassandra and publishing view changes, `meterflow serve` wired as in production.
const HOUSEHOLDS = ['MAC000002', 'MAC000003'];
const log = createLogger('test-dashboard-api', 'warn');
const YEAR = 'from=2013-01-01&to=2014-01-01&grain=day';

/** Import kWh per household straight from the CSVs (duplicates once). */
async function duckdbTotals(con: DuckDBConnection): Promise<Map<string, number>> {
  const reader = await con.runAndReadAll(
    `WITH raw AS (
      SELECT trim(LCLid) AS id, CAST(tstp AS TIMESTAMP) AS ts, TRY_CAST(trim("energy(kWh/hh)") AS DOUBLE) AS kwh
      FROM read_csv($files, header = true, all_varchar = true)
    ) SELECT id, sum(kwh) AS kwh FROM (SELECT DISTINCT id, ts, kwh FROM raw WHERE kwh IS NOT NULL) GROUP BY id`,
    { files: listValue(HOUSEHOLDS.map((h) => join(DATA_DIR, 'lcl-2013', `${h}.csv`))) },
  );
  return new Map(reader.getRowObjects().map((r) => [`meter=lcl:${String(r.id)}`, Number(r.kwh)]));
}

/** Reads an SSE stream until `until` accepts an event (or the signal aborts). */
async function readSse(url: string, until: (e: LiveEvent) => boolean, signal: AbortSignal, opened: () => void): Promise<LiveEvent> {
  const res = await fetch(url, { signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  opened();
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (data !== undefined) {
        const event = JSON.parse(data.slice(6)) as LiveEvent;
        if (until(event)) return event;
      }
      end = buffer.indexOf('\n\n');
    }
  }
  throw new Error('stream ended before the expected event');
}

describe('dashboard API: top, keys, live, pipeline on real Kafka and Cassandra', () => {
  let config: Config;
  let meters: Meter[];
  let client: CassandraClient;
  let server: RunningServer;
  let speed: SpeedLayer | undefined;
  let db: DuckDBInstance;
  let con: DuckDBConnection;
  let live: Promise<LiveEvent>;
  const abort = new AbortController();

  beforeAll(async () => {
    const base = testConfig({
      ingest: { retentionDays: 36_500 },
      serving: { port: 0, auth: { required: false } },
      speed: { groupId: `test-dash-speed-${randomUUID()}`, flushIntervalMs: 200, refreshIntervalMs: 300 },
    });
    config = await withFreshKeyspace(await withFreshTopics(base, 2), 'meterflow_dash_api');
    meters = (await lclMeters(join(DATA_DIR, 'lcl-2013-households.csv'))).filter((m) => HOUSEHOLDS.some((h) => m.meterId.endsWith(h)));
    expect(meters).toHaveLength(2);
    client = createCassandra(config);
    await client.connect();
    await new MeterRegistryStore(client).upsert(meters);
    server = await startServer(config, log);
    await server.feed.ready;
    // Subscribed before anything is folded: the speed layer's first flush must reach this client.
    let opened: () => void = () => {};
    const isOpen = new Promise<void>((r) => {
      opened = r;
    });
    live = readSse(
      `${server.url}/v1/live?view=meter_15m&key=${encodeURIComponent('meter=lcl:MAC000002')}&grain=day`,
      (e) => e.measures.importKwh !== undefined,
      abort.signal,
      opened,
    );
    live.catch(() => {});
    await isOpen;
    const { pipeline, transport } = await createIngestPipeline(config, log, new Map(meters.map((m) => [m.meterId, m])));
    try {
      await replayFiles(
        HOUSEHOLDS.map((h) => join(DATA_DIR, 'lcl-2013', `${h}.csv`)),
        'lcl',
        pipeline,
      );
      // One bad reading, so the dead-letter count has something to count.
      const outcome = await pipeline.enqueue({
        reading: {
          meterId: 'lcl:NOPE',
          intervalStart: Date.UTC(2013, 0, 1),
          intervalMinutes: 30,
          channel: 'import',
          kind: 'interval',
          value: 1,
          quality: 'actual',
          source: 'test',
          correction: false,
        },
        source: 'test',
        origin: null,
      });
      expect(outcome.status).toBe('rejected');
      await pipeline.flush();
    } finally {
      await transport.disconnect();
    }
    speed = new SpeedLayer({ config, log, kafka: createKafka(config, log), cassandra: client });
    await speed.start();
    await waitForSpeedCaughtUp(config, 120_000, client, 0);
    db = await DuckDBInstance.create(':memory:');
    con = await db.connect();
  });
  afterAll(async () => {
    abort.abort();
    await speed?.stop();
    await server?.close();
    con?.closeSync();
    db?.closeSync();
    await client?.shutdown();
  });

  it('GET /v1/live streams the speed layer’s view changes for the subscribed key', async () => {
    const event = await live;
    expect(event).toMatchObject({ view: 'meter_15m', key: 'meter=lcl:MAC000002', grain: 'day', cause: 'SPEED_FLUSH', generation: 0 });
    expect(Date.parse(event.bucket)).toBeGreaterThanOrEqual(Date.UTC(2013, 0, 1));
  });

  it('GET /v1/views/:view/top ranks meters by the merged total, equal to DuckDB over the CSVs', async () => {
    const expected = await duckdbTotals(con);
    const ranked = [...expected].sort((a, b) => b[1] - a[1]);
    const res = await fetch(`${server.url}/v1/views/meter_15m/top?${YEAR}&by=importKwh&limit=2&measures=importKwh,coverage`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      rows: { key: string; meters: number; values: Record<string, number> }[];
      provenance: { speedGeneration: number };
    };
    expect(body.rows.map((r) => r.key)).toEqual(ranked.map(([k]) => k));
    for (const row of body.rows) {
      expect(Math.abs((row.values.importKwh as number) - (expected.get(row.key) as number))).toBeLessThan(1e-6);
      expect(row.values.coverage).toBeGreaterThan(0.9);
      expect(row.meters).toBe(1);
    }
    expect(body.provenance.speedGeneration).toBe(0);

    const asc = (await (await fetch(`${server.url}/v1/views/meter_15m/top?${YEAR}&by=importKwh&limit=1&order=asc`)).json()) as {
      rows: { key: string }[];
    };
    expect(asc.rows.map((r) => r.key)).toEqual([ranked[1]?.[0]]);
  });

  it('GET /v1/views/:view/keys lists the rows under a parent with totals; the region total is the sum of its meters', async () => {
    const region = meters[0]?.region as string;
    const underRegion = meters
      .filter((m) => m.region === region)
      .map((m) => `meter=${m.meterId}`)
      .sort();
    const res = await fetch(
      `${server.url}/v1/views/meter_15m/keys?${YEAR}&measures=importKwh&parent=${encodeURIComponent(`region=${region}`)}`,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      parent: string;
      rows: { key: string; dimensions: Record<string, string>; values: { importKwh: number } }[];
    };
    expect(body.parent).toBe(`region=${region}`);
    expect(body.rows.map((r) => r.key)).toEqual(underRegion);
    const regions = (await (await fetch(`${server.url}/v1/views/region_hourly/keys?${YEAR}&measures=importKwh`)).json()) as typeof body;
    const regionRow = regions.rows.find((r) => r.dimensions.region === region);
    const sum = body.rows.reduce((s, r) => s + r.values.importKwh, 0);
    expect(Math.abs((regionRow?.values.importKwh ?? Number.NaN) - sum)).toBeLessThan(1e-6);

    const csv = await fetch(`${server.url}/v1/views/meter_15m/keys?${YEAR}&measures=importKwh&format=csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect((await csv.text()).split('\n')[0]).toBe('key,meters,buckets,importKwh');

    // The same listing as Arrow, read back with apache-arrow: the same rows and totals as the JSON.
    const arrow = await fetch(
      `${server.url}/v1/views/meter_15m/keys?${YEAR}&measures=importKwh&parent=${encodeURIComponent(`region=${region}`)}`,
      { headers: { accept: 'application/vnd.apache.arrow.stream' } },
    );
    expect(arrow.headers.get('content-type')).toBe('application/vnd.apache.arrow.stream');
    const table = tableFromIPC(new Uint8Array(await arrow.arrayBuffer()));
    expect(table.schema.fields.map((f) => f.name)).toEqual(['key', 'meter', 'meters', 'buckets', 'importKwh']);
    expect(table.toArray().map((r) => [r.key, r.meter, r.importKwh])).toEqual(
      body.rows.map((r) => [r.key, r.dimensions.meter, r.values.importKwh]),
    );
    expect(JSON.parse(table.schema.metadata.get('meterflow.provenance') as string)).toMatchObject({ speedGeneration: 0 });
  });

  it('bad parameters get a 400 saying what is allowed', async () => {
    const cases: [string, RegExp][] = [
      [`/v1/views/meter_15m/top?${YEAR}`, /by is required/],
      [`/v1/views/meter_15m/top?${YEAR}&by=nope`, /unknown measure "nope"/],
      [`/v1/views/meter_15m/top?${YEAR}&by=importKwh&limit=0`, /limit "0" must be a whole number from 1 to/],
      [`/v1/views/meter_15m/top?${YEAR}&by=importKwh&order=up`, /must be asc or desc/],
      [`/v1/views/meter_15m/keys?${YEAR}&parent=planet=earth`, /dimension one of meter, site, region, tariff/],
      ['/v1/views/meter_15m/keys?from=2014-01-01&to=2013-01-01', /must be before/],
      // Two meters x 34 years of daily storage periods: over the read limit.
      ['/v1/views/meter_15m/keys?from=1980-01-01&to=2014-01-01&grain=15m', /reads; at most/],
      ['/v1/live?key=meter=x', /key needs view/],
      ['/v1/live?view=meter_15m&grain=week', /unknown grain "week"/],
    ];
    for (const [url, message] of cases) {
      const res = await fetch(`${server.url}${url}`);
      expect(res.status, url).toBe(400);
      expect(((await res.json()) as { message: string }).message, url).toMatch(message);
    }
    expect((await fetch(`${server.url}/v1/views/nope/top?${YEAR}&by=importKwh`)).status).toBe(404);
  });

  it('GET /v1/pipeline reports offsets, zero lag once caught up, no batch yet, and the dead letter by reason', async () => {
    const admin = createKafka(config, log).admin();
    await admin.connect();
    const offsets = (await admin.fetchTopicOffsets(config.kafka.topics.readings.name)).sort((a, b) => a.partition - b.partition);
    await admin.disconnect();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await fetch(`${server.url}/v1/pipeline`);
      expect(res.status).toBe(200);
      // biome-ignore lint/suspicious/noExplicitAny: the shape is what the assertions check
      const body = (await res.json()) as any;
      expect(body.readings.partitions.map((p: { highWatermark: number }) => p.highWatermark)).toEqual(offsets.map((o) => Number(o.high)));
      expect(body.readings.total).toBe(offsets.reduce((s, o) => s + Number(o.high), 0));
      expect(body.speed).toMatchObject({ generation: 0, reachable: true, lag: 0, caughtUp: true });
      expect(body.speed.freshnessMs).toBeGreaterThanOrEqual(0);
      expect(body.batch).toBeNull();
      expect(body.deadLetters.retained).toBe(1);
      if (body.deadLetters.counted === 1) {
        expect(Object.values(body.deadLetters.byReason)).toEqual([1]);
        break;
      }
      if (Date.now() > deadline) throw new Error(`dead letter not counted: ${JSON.stringify(body.deadLetters)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
});
