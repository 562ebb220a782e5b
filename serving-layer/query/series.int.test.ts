import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArchiver } from '../../batch-layer/archive/archiver.ts';
import { type BatchLayout, layoutFor } from '../../batch-layer/layout.ts';
import { runRecompute } from '../../batch-layer/recompute/recompute.ts';
import { rollback } from '../../batch-layer/recompute/versions.ts';
import { type CassandraClient, createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { GenerationStore } from '../../core/generation-store.ts';
import { createKafka } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { MeterRegistryStore } from '../../core/meter-registry.ts';
import { createIngestPipeline } from '../../ingest/pipeline/create-pipeline.ts';
import { replayFiles } from '../../ingest/replay/replay.ts';
import { lclMeters } from '../../ingest/sources/index.ts';
import type { Meter } from '../../schemas/reading.ts';
import { fleetHourly, meter15m } from '../../schemas/views/index.ts';
import { SpeedLayer } from '../../speed-layer/speed-layer.ts';
import { DATA_DIR } from '../../test/support/data-dir.ts';
import { duckdbDaily, eventually, expectSameDays, type SeriesBody } from '../../test/support/expected-series.ts';
import { withFreshTopics } from '../../test/support/kafka-helpers.ts';
import { waitForSpeedCaughtUp, withFreshKeyspace } from '../../test/support/speed-helpers.ts';
import { testConfig } from '../../test/support/test-config.ts';
import { buildApp } from '../app.ts';
import { MemoryKeyStore } from '../auth/key-store.ts';
import { viewRoutes } from '../routes/view-routes.ts';
import { createQuerySources } from './create-sources.ts';
import { VERSIONS_CACHE_MS } from './duckdb-batch-source.ts';

// The query API on the real path: readings replayed onto Kafka, the speed layer folding them into
// Cassandra, the archiver and a batch run writing Parquet; answers compared with DuckDB over the CSVs.
const file = (h: string) => join(DATA_DIR, 'lcl-2013', `${h}.csv`);
const EARLY = ['MAC000002', 'MAC000003'].map(file);
const LATE = ['MAC000004'].map(file);
const log = createLogger('test-query', 'warn');
const YEAR = 'from=2013-01-01&to=2014-01-01&grain=day&measures=importKwh';

describe('query API: batch ⊕ speed on real Kafka, Cassandra and Parquet', () => {
  let config: Config;
  let layout: BatchLayout;
  let meters: Meter[];
  let client: CassandraClient;
  let speed: SpeedLayer | undefined;
  let app: FastifyInstance;
  let db: DuckDBInstance;
  let con: DuckDBConnection;
  let dataDir: string;
  let version: number;

  async function replay(files: string[]): Promise<void> {
    const { pipeline, transport } = await createIngestPipeline(config, log, new Map(meters.map((m) => [m.meterId, m])));
    try {
      await replayFiles(files, 'lcl', pipeline);
    } finally {
      await transport.disconnect();
    }
  }
  async function archiveOnce(): Promise<void> {
    await runArchiver({ config, log, kafka: createKafka(config, log), once: true });
  }
  function batchRun() {
    return runRecompute({
      layout,
      log,
      meters,
      generations: new GenerationStore(client),
      views: [meter15m, fleetHourly],
      memoryLimit: config.batch.recompute.memoryLimit,
    });
  }
  async function get(view: string, query: string, target = app): Promise<SeriesBody> {
    const res = await target.inject({ method: 'GET', url: `/v1/views/${view}/series?${query}` });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as SeriesBody;
  }
  async function highWatermarks(): Promise<Map<number, number>> {
    const admin = createKafka(config, log).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(config.kafka.topics.readings.name);
      return new Map(offsets.map((o) => [o.partition, Number(o.high)] as const).sort((a, b) => a[0] - b[0]));
    } finally {
      await admin.disconnect();
    }
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'meterflow-query-int-'));
    const base = testConfig({
      ingest: { retentionDays: 36_500 },
      // Above the load test's request rate (test 3); the limit itself is tested in serving.int.test.ts.
      serving: { auth: { required: false }, rateLimit: { max: 1_000_000 } },
      speed: { groupId: `test-query-speed-${randomUUID()}`, flushIntervalMs: 200, refreshIntervalMs: 300 },
      batch: { dataDir, archive: { groupId: `test-query-archiver-${randomUUID()}`, flushReadings: 20_000 } },
    });
    config = await withFreshKeyspace(await withFreshTopics(base, 3), 'meterflow_query_a');
    layout = layoutFor(config);
    meters = await lclMeters(join(DATA_DIR, 'lcl-2013-households.csv'));
    client = createCassandra(config);
    await client.connect();
    await new MeterRegistryStore(client).upsert(meters);
    await replay(EARLY);
    speed = new SpeedLayer({ config, log, kafka: createKafka(config, log), cassandra: client });
    await speed.start();
    await waitForSpeedCaughtUp(config, 120_000, client, 0);
    app = await buildApp({
      config,
      log,
      keyStore: new MemoryKeyStore(),
      probes: {},
      routes: [viewRoutes(createQuerySources(config, client))],
    });
    db = await DuckDBInstance.create(':memory:');
    con = await db.connect();
  });
  afterAll(async () => {
    await speed?.stop();
    await app?.close();
    con?.closeSync();
    db?.closeSync();
    await client?.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('with no batch version: the series is speed(0) alone and equals DuckDB over the CSVs', async () => {
    const expected = await duckdbDaily(con, [file('MAC000002')]);
    const meter = await eventually(async () => {
      const body = await get('meter_15m', `key=${encodeURIComponent('meter=lcl:MAC000002')}&${YEAR}`);
      expectSameDays(body, expected);
      return body;
    });
    const high = await highWatermarks();
    expect(meter.provenance).toMatchObject({ batchVersion: 0, speedGeneration: 0, stale: false, warnings: [], batch: null });
    expect(meter.provenance.speed?.partitions).toEqual(
      [...high].map(([partition, h]) => ({
        partition,
        fromOffset: 0,
        throughOffset: h - 1,
        caughtUp: true,
        updatedAt: expect.any(String),
      })),
    );
    expect(meter.provenance.freshnessMs).toBeGreaterThanOrEqual(0);
    expect(meter.buckets.every((b) => b.provisional)).toBe(true);

    const fleetExpected = await duckdbDaily(con, EARLY);
    await eventually(async () => expectSameDays(await get('fleet_hourly', YEAR), fleetExpected));
  });

  it('after a batch run and more readings: batch(V) ⊕ speed(V) equals DuckDB over every CSV (no gap, no double count)', async () => {
    let t = Date.now();
    const lap = (step: string) => {
      log.warn({ step, seconds: (Date.now() - t) / 1000 }, 'query int timing');
      t = Date.now();
    };
    await archiveOnce();
    lap('archive --once');
    const manifest = await batchRun();
    version = manifest.version;
    lap('batch run');
    await replay(LATE);
    lap('replay of the late household');
    // The running speed layer picks up generation V (refreshIntervalMs) and rebuilds it from B[p] + 1.
    await waitForSpeedCaughtUp(config, 120_000, client, version);
    lap('speed generation V caught up');

    const all = await duckdbDaily(con, [...EARLY, ...LATE]);
    const fleet = await eventually(async () => {
      const body = await get('fleet_hourly', YEAR);
      expectSameDays(body, all);
      return body;
    });
    const high = await highWatermarks();
    expect(fleet.provenance).toMatchObject({ batchVersion: version, speedGeneration: version, stale: false, warnings: [] });
    expect(fleet.provenance.batch?.offsets).toEqual(manifest.offsets);
    expect(fleet.provenance.speed?.partitions).toEqual(
      [...high].map(([partition, h]) => ({
        partition,
        fromOffset: (manifest.offsets[partition] ?? -1) + 1,
        throughOffset: h - 1,
        caughtUp: true,
        updatedAt: expect.any(String),
      })),
    );
    const newest = fleet.provenance.batch?.newestBucket as string;
    expect(newest).toBe('2013-12-31T00:00:00.000Z');
    expect(fleet.buckets.filter((b) => b.provisional).map((b) => b.bucket)).toEqual([newest]);

    // A household only in the speed part, one only in the batch part.
    const lateExpected = await duckdbDaily(con, LATE);
    await eventually(async () =>
      expectSameDays(await get('meter_15m', `key=${encodeURIComponent('meter=lcl:MAC000004')}&${YEAR}`), lateExpected),
    );
    const early = await get('meter_15m', `key=${encodeURIComponent('meter=lcl:MAC000003')}&${YEAR}`);
    expectSameDays(early, await duckdbDaily(con, [file('MAC000003')]));

    // The same answer as CSV.
    const csv = await app.inject({ method: 'GET', url: `/v1/views/fleet_hourly/series?${YEAR}`, headers: { accept: 'text/csv' } });
    expect(csv.statusCode).toBe(200);
    expect(csv.body.trim().split('\n')).toHaveLength(fleet.buckets.length + 1);
    expect(csv.headers['x-meterflow-batch-version']).toBe(String(version));
  });

  it('a batch publication under query load: every answer, in JSON, CSV and Arrow, is one whole pair and exact', async () => {
    const expected = await duckdbDaily(con, [...EARLY, ...LATE]);
    const answers: { format: string; days: Map<string, number>; batchVersion: number; speedGeneration: number | null; stale: boolean }[] =
      [];
    let loading = true;
    // Two clients per format asking as fast as they can while the next version is built, published
    // and its speed generation rebuilt, and a moment after.
    async function analyst(format: 'json' | 'csv' | 'arrow'): Promise<void> {
      while (loading) {
        // About 100 questions a second each: the speed layer rebuilding the new generation runs in
        // this process too, and an answer from memory resolves without yielding to it.
        await new Promise((r) => setTimeout(r, 10));
        const res = await app.inject({ method: 'GET', url: `/v1/views/fleet_hourly/series?${YEAR}&format=${format}` });
        expect(res.statusCode, res.body).toBe(200);
        const header = (name: string) => res.headers[`x-meterflow-${name}`];
        if (format === 'json') {
          const body = res.json() as SeriesBody;
          const days = new Map(body.buckets.map((b) => [b.bucket.slice(0, 10), b.values.importKwh]));
          const { batchVersion, speedGeneration, stale } = body.provenance;
          answers.push({ format, days, batchVersion, speedGeneration, stale });
          continue;
        }
        let days: Map<string, number>;
        if (format === 'csv') {
          const [head, ...lines] = res.body.trim().split('\n');
          expect(head).toBe('bucket,provisional,importKwh');
          days = new Map(lines.map((l) => l.split(',')).map(([bucket, , kwh]) => [String(bucket).slice(0, 10), Number(kwh)]));
        } else {
          const table = tableFromIPC(res.rawPayload);
          const buckets = table.getChild('bucket')?.toArray() as string[];
          const kwh = table.getChild('importKwh')?.toArray() as Float64Array;
          days = new Map(buckets.map((b, i) => [String(b).slice(0, 10), kwh[i] as number]));
        }
        const generation = header('speed-generation');
        answers.push({
          format,
          days,
          batchVersion: Number(header('batch-version')),
          speedGeneration: generation === undefined || generation === 'none' ? null : Number(generation),
          stale: header('stale') === 'true',
        });
      }
    }
    const clients = (['json', 'csv', 'arrow'] as const).flatMap((f) => [analyst(f), analyst(f)]);
    for (const c of clients) {
      // A failed client stops the others; the failure is reported by the Promise.all below.
      c.catch(() => {
        loading = false;
      });
    }
    try {
      const t0 = Date.now();
      await archiveOnce();
      const t1 = Date.now();
      const next = await batchRun();
      const t2 = Date.now();
      await waitForSpeedCaughtUp(config, 120_000, client, next.version);
      log.warn({ archiveMs: t1 - t0, batchMs: t2 - t1, speedMs: Date.now() - t2 }, 'publication under load timing');
      // Past the version-list cache period, so the new pair is served for a while under load.
      await new Promise((r) => setTimeout(r, VERSIONS_CACHE_MS + 1_000));
      version = next.version;
    } finally {
      loading = false;
      await Promise.all(clients);
    }
    expect(new Set(answers.map((a) => a.format))).toEqual(new Set(['json', 'csv', 'arrow']));
    // Checked in plain code (thousands of answers × 365 days), each wrong answer described in full.
    const wrong = answers.filter(
      (a) =>
        a.stale ||
        a.speedGeneration !== a.batchVersion ||
        a.days.size !== expected.size ||
        [...expected].some(([day, kwh]) => !(Math.abs((a.days.get(day) ?? Number.NaN) - kwh) < 1e-6)),
    );
    // Never batch(V) with speed(W), nothing knowingly missing, every day exact.
    expect(wrong.slice(0, 3), `${wrong.length} of ${answers.length} answers wrong`).toEqual([]);
    const versions = new Set(answers.map((a) => a.batchVersion));
    log.warn({ answers: answers.length, versions: [...versions] }, 'answers during the publication');
    expect(versions.has(version), `answers from the new version ${version}: ${[...versions]}`).toBe(true);
    expect(versions.size, `answers from the old version too: ${[...versions]}`).toBe(2);
  });

  it('a published version whose speed generation is not built yet is not served: the caught-up pair still is', async () => {
    await speed?.stop();
    speed = undefined;
    const rolled = await rollback(layout, version, new GenerationStore(client));
    expect(rolled.version).toBe(version + 1);
    // The API re-reads the list of versions at most once per cache period.
    await new Promise((r) => setTimeout(r, VERSIONS_CACHE_MS + 200));
    const fleet = await get('fleet_hourly', YEAR);
    expect(fleet.provenance).toMatchObject({ batchVersion: version, speedGeneration: version, stale: false });
    expect(fleet.provenance.warnings).toEqual([
      expect.stringMatching(`batch version ${version + 1} is published but its speed generation`),
    ]);
    expectSameDays(fleet, await duckdbDaily(con, [...EARLY, ...LATE]));
  });

  it('Cassandra unreachable: batch alone, stale, within the timeout', async () => {
    const deadConfig: Config = { ...config, infra: { ...config.infra, cassandra: { ...config.infra.cassandra, nativePort: 1 } } };
    const dead = createCassandra(deadConfig, { connectTimeoutMs: 500 });
    const offline = await buildApp({
      config,
      log,
      keyStore: new MemoryKeyStore(),
      probes: {},
      routes: [viewRoutes(createQuerySources(config, dead, { speedTimeoutMs: 1_000 }))],
    });
    try {
      const started = Date.now();
      const fleet = await get('fleet_hourly', YEAR, offline);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(fleet.provenance).toMatchObject({ batchVersion: version + 1, speedGeneration: null, stale: true, speed: null });
      expect(fleet.provenance.warnings).toEqual([expect.stringMatching(/speed layer unreachable/)]);
      // batch(V + 1) = batch(V): the version the load test published covers every replayed reading.
      expectSameDays(fleet, await duckdbDaily(con, [...EARLY, ...LATE]));
    } finally {
      await offline.close();
      await dead.shutdown().catch(() => {});
    }
  });
});
