import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, listValue } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CassandraClient, createCassandra } from '../core/cassandra.ts';
import type { Config } from '../core/config.ts';
import { GenerationStore } from '../core/generation-store.ts';
import { createKafka } from '../core/kafka.ts';
import { createLogger } from '../core/logger.ts';
import { MeterRegistryStore } from '../core/meter-registry.ts';
import { createIngestPipeline } from '../ingest/pipeline/create-pipeline.ts';
import { replayFiles } from '../ingest/replay/replay.ts';
import { lclMeters } from '../ingest/sources/index.ts';
import { decodeViewChange } from '../schemas/avro/codec.ts';
import type { Meter, MeterReading } from '../schemas/reading.ts';
import { evaluateView, type LoggedReading, meter15m, meterLookup } from '../schemas/views/index.ts';
import { cliEnv, runCli } from '../test/support/cli.ts';
import { DATA_DIR } from '../test/support/data-dir.ts';
import { consumeAll, topicMessageCount, withFreshTopics } from '../test/support/kafka-helpers.ts';
import { withFreshKeyspace } from '../test/support/speed-helpers.ts';
import { testConfig } from '../test/support/test-config.ts';
import { runArchiver } from './archive/archiver.ts';
import { readMasterManifest } from './archive/master-manifest.ts';
import { type BatchLayout, layoutFor } from './layout.ts';
import { readBatchViewRows } from './recompute/read-views.ts';
import { runRecompute } from './recompute/recompute.ts';
import { readCurrentVersion } from './recompute/versions.ts';

// The batch layer on the real local Kafka and Cassandra, fed with real London households.
const DATA = DATA_DIR;
const HOUSEHOLDS = ['MAC000002', 'MAC000003', 'MAC000004', 'MAC000005'];
const FILES = HOUSEHOLDS.map((h) => join(DATA, 'lcl-2013', `${h}.csv`));
const log = createLogger('test-batch', 'warn');

/** Per meter and UTC day, import kWh straight from the CSV files with DuckDB (duplicates counted once). */
async function duckdbDailyTotals(con: DuckDBConnection, files: string[]): Promise<Map<string, number>> {
  const reader = await con.runAndReadAll(
    `WITH raw AS (
      SELECT trim(LCLid) AS id, CAST(tstp AS TIMESTAMP) AS ts, TRY_CAST(trim("energy(kWh/hh)") AS DOUBLE) AS kwh
      FROM read_csv($files, header = true, all_varchar = true)
    ), dedup AS (SELECT DISTINCT id, ts, kwh FROM raw WHERE kwh IS NOT NULL)
    SELECT id, CAST(date_trunc('day', ts) AS VARCHAR) AS day, sum(kwh) AS kwh FROM dedup GROUP BY ALL`,
    { files: listValue(files) },
  );
  const out = new Map<string, number>();
  for (const row of reader.getRowObjects()) out.set(`lcl:${row.id}|${String(row.day).slice(0, 10)}`, Number(row.kwh));
  return out;
}

async function masterReadings(con: DuckDBConnection, layout: BatchLayout): Promise<LoggedReading[]> {
  const manifest = await readMasterManifest(layout.masterManifest);
  const files = (manifest?.files ?? []).map((f) => join(layout.masterDir, f.path));
  const rows = (await con.runAndReadAll('SELECT * FROM read_parquet($files)', { files: listValue(files) })).getRowObjectsJS();
  return rows.map((r) => ({
    reading: {
      meterId: r.meter_id as string,
      intervalStart: Number(r.interval_start),
      intervalMinutes: Number(r.interval_minutes),
      channel: r.channel as MeterReading['channel'],
      kind: r.kind as MeterReading['kind'],
      value: Number(r.value),
      quality: r.quality as MeterReading['quality'],
      source: r.source as string,
      correction: r.correction as boolean,
    },
    partition: Number(r.kafka_partition),
    offset: Number(r.kafka_offset),
  }));
}

describe('batch layer on real Kafka and Cassandra', () => {
  let config: Config;
  let layout: BatchLayout;
  let meters: Meter[];
  let client: CassandraClient;
  let db: DuckDBInstance;
  let con: DuckDBConnection;
  let accepted: number;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'meterflow-batch-int-'));
    const base = testConfig({
      ingest: { retentionDays: 36_500 },
      batch: { dataDir, archive: { groupId: `test-archiver-${randomUUID()}`, flushReadings: 5_000 } },
    });
    config = await withFreshKeyspace(await withFreshTopics(base, 3), 'meterflow_batch_a');
    layout = layoutFor(config);
    meters = await lclMeters(join(DATA, 'lcl-2013-households.csv'));
    client = createCassandra(config);
    await client.connect();
    await new MeterRegistryStore(client).upsert(meters);
    const { pipeline, transport } = await createIngestPipeline(config, log, new Map(meters.map((m) => [m.meterId, m])));
    try {
      accepted = (await replayFiles(FILES, 'lcl', pipeline)).accepted;
    } finally {
      await transport.disconnect();
    }
    db = await DuckDBInstance.create(':memory:');
    con = await db.connect();
  });
  afterAll(async () => {
    con?.closeSync();
    db?.closeSync();
    await client?.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('an archive --once stopped before the end of the topic fails (MF_ARCHIVE_INTERRUPTED) instead of reporting success', async () => {
    const stopped = runArchiver({ config, log, kafka: createKafka(config, log), once: true, signal: AbortSignal.abort() });
    await expect(stopped).rejects.toMatchObject({ code: 'MF_ARCHIVE_INTERRUPTED' });
    expect((await readMasterManifest(layout.masterManifest))?.files.length ?? 0).toBe(0);
  });

  it('archives every offset exactly once across a crash before the manifest write and a re-run', async () => {
    let written = 0;
    const crashing = runArchiver({
      config,
      log,
      kafka: createKafka(config, log),
      once: true,
      hooks: {
        beforeManifest: () => {
          if (++written === 4) throw new Error('crash between file and manifest');
        },
      },
    });
    await expect(crashing).rejects.toThrow('crash between file and manifest');
    const listedAfterCrash = (await readMasterManifest(layout.masterManifest))?.files.length ?? 0;
    expect(listedAfterCrash).toBe(3);

    const started = Date.now();
    const resumed = await runArchiver({ config, log, kafka: createKafka(config, log), once: true });
    log.warn({ seconds: (Date.now() - started) / 1000, readings: resumed.readings }, 'archive --once (resume) timing');
    const again = await runArchiver({ config, log, kafka: createKafka(config, log), once: true });
    expect(again.files).toEqual([]);

    const admin = createKafka(config, log).admin();
    await admin.connect();
    const high = new Map((await admin.fetchTopicOffsets(config.kafka.topics.readings.name)).map((o) => [o.partition, Number(o.high)]));
    await admin.disconnect();
    expect(resumed.covered).toEqual(Object.fromEntries([...high].map(([p, h]) => [p, h - 1])));

    const logged = await masterReadings(con, layout);
    expect(logged.length).toBe(accepted);
    expect(await topicMessageCount(config, config.kafka.topics.readings.name)).toBe(accepted);
    const seen = new Set(logged.map((r) => `${r.partition}:${r.offset}`));
    expect(seen.size).toBe(logged.length);
    for (const [p, h] of high) for (let o = 0; o < h; o++) if (!seen.has(`${p}:${o}`)) throw new Error(`offset ${p}:${o} missing`);
  });

  it('batch run: per-meter daily importKwh equals DuckDB over the CSVs and the reference evaluation; published with B[p]', async () => {
    const started = Date.now();
    const generations = new GenerationStore(client);
    const m = await runRecompute({
      layout,
      log,
      meters: await new MeterRegistryStore(client).all(),
      generations,
      memoryLimit: config.batch.recompute.memoryLimit,
    });
    log.warn({ seconds: (Date.now() - started) / 1000, timing: m.timing, readings: m.master.rows }, 'batch run timing');
    expect(await readCurrentVersion(layout)).toBe(m.version);
    const published = await generations.current();
    expect(published.generation).toBe(m.version);
    const manifest = await readMasterManifest(layout.masterManifest);
    expect(published.offsets).toEqual(
      Object.fromEntries(Object.entries(manifest?.partitions ?? {}).map(([p, c]) => [Number(p), c.lastOffset])),
    );

    const { rows } = await readBatchViewRows(con, layout, meter15m, 'day');
    const batch = new Map(
      rows.map((r) => [`${r.key.replace(/^meter=/, '')}|${new Date(r.bucket).toISOString().slice(0, 10)}`, r.values.importKwh]),
    );
    const expected = await duckdbDailyTotals(con, FILES);
    expect([...batch.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, kwh] of expected) expect(Math.abs((batch.get(k) ?? Number.NaN) - kwh), k).toBeLessThan(1e-6);

    const reference = evaluateView(meter15m, 'day', await masterReadings(con, layout), meterLookup(meters));
    expect(rows.length).toBe(reference.length);
    reference.forEach((r, i) => {
      expect(rows[i]?.key).toBe(r.key);
      expect(rows[i]?.values.importKwh).toBeCloseTo(r.values.importKwh as number, 9);
      expect(rows[i]?.values.coverage).toBeCloseTo(r.values.coverage as number, 9);
    });
  });

  it('a run that fails before the rename leaves CURRENT and the published generation as they were', async () => {
    const generations = new GenerationStore(client);
    const before = { current: readFileSync(layout.current, 'utf8'), generation: await generations.current() };
    await expect(
      runRecompute({
        layout,
        log,
        meters,
        generations,
        views: [meter15m],
        hooks: {
          beforePublish: () => {
            throw new Error('injected');
          },
        },
      }),
    ).rejects.toThrow('injected');
    expect(readFileSync(layout.current, 'utf8')).toBe(before.current);
    expect(await generations.current()).toEqual(before.generation);
  });

  it('continuous mode archives new readings on its flush timer and writes what it holds when stopped', async () => {
    const { pipeline, transport } = await createIngestPipeline(config, log, new Map(meters.map((m) => [m.meterId, m])));
    try {
      accepted += (await replayFiles([join(DATA, 'lcl-2013', 'MAC000006.csv')], 'lcl', pipeline)).accepted;
    } finally {
      await transport.disconnect();
    }
    const admin = createKafka(config, log).admin();
    await admin.connect();
    const high = new Map((await admin.fetchTopicOffsets(config.kafka.topics.readings.name)).map((o) => [o.partition, Number(o.high)]));
    await admin.disconnect();
    const controller = new AbortController();
    const continuous = {
      ...config,
      batch: { ...config.batch, archive: { ...config.batch.archive, flushIntervalMs: 500, flushReadings: 1_000_000 } },
    };
    const running = runArchiver({ config: continuous, log, kafka: createKafka(config, log), signal: controller.signal });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const m = await readMasterManifest(layout.masterManifest);
      if ([...high].every(([p, h]) => m?.partitions[p]?.lastOffset === h - 1)) break;
      if (Date.now() > deadline) throw new Error(`continuous archiver did not catch up: ${JSON.stringify(m?.partitions)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    controller.abort();
    await running;
    const logged = await masterReadings(con, layout);
    expect(logged.length).toBe(accepted);
    expect(new Set(logged.map((r) => `${r.partition}:${r.offset}`)).size).toBe(accepted);
  });

  it('the CLI: archive --once, batch run, versions, rollback, gc', async () => {
    const env = {
      ...cliEnv(config),
      METERFLOW_BATCH__DATA_DIR: dataDir,
      METERFLOW_BATCH__ARCHIVE__GROUP_ID: config.batch.archive.groupId,
    };
    const archived = await runCli(['archive', '--once', '--json'], { env });
    expect(archived.stderr).toBe('');
    expect(JSON.parse(archived.stdout)).toMatchObject({ files: [], readings: 0 });

    const badRange = await runCli(['batch', 'run', '--from', '2013-03-01'], { env });
    expect(badRange.code).toBe(1);
    expect(badRange.stderr).toContain('MF_BAD_REQUEST: --from and --to go together');

    const run = await runCli(['batch', 'run', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    const v = JSON.parse(run.stdout).version as number;
    // v1 is served and MAC000006's readings arrived since: an incremental run from v1.
    const runSummary = JSON.parse(run.stdout).run;
    expect(runSummary).toMatchObject({ mode: 'incremental', baseVersion: 1 });
    expect(runSummary.newReadings).toBeGreaterThan(10_000);
    expect(runSummary.recomputedRows + runSummary.carriedRows).toBeGreaterThan(0);
    log.warn({ ms: run.ms, run: runSummary }, 'CLI batch run timing');

    // Downstream is told: no version before v published changes, so every day bucket of v is one
    // BATCH_PUBLISHED event with v's values, then the version event with v's offsets.
    const changesTopic = config.kafka.topics.viewChanges.name;
    const afterRun = (await consumeAll(config, changesTopic, await topicMessageCount(config, changesTopic))).map((m) =>
      decodeViewChange(m.value),
    );
    const ofV = afterRun.filter((e) => e.batchVersion === v && e.cause === 'BATCH_PUBLISHED');
    const dayRows = (await readBatchViewRows(con, layout, meter15m, 'day')).rows;
    const dayEvents = ofV.filter((e) => e.view === meter15m.name && e.grain === 'day');
    expect(dayEvents.length).toBe(dayRows.length);
    for (const row of dayRows) {
      const e = dayEvents.find((x) => x.bucketStart === row.bucket && `meter=${x.key.meter}` === row.key);
      expect(e?.measures.importKwh, `${row.key}@${row.bucket}`).toBeCloseTo(row.values.importKwh as number, 9);
    }
    expect(ofV.filter((e) => e.grain === '15m' || e.grain === 'hour')).toEqual([]);
    // The topic has several partitions: order holds within one, so find the version event by its view.
    const versionEvent = ofV.find((e) => e.view === '*');
    expect(versionEvent).toMatchObject({ view: '*', grain: '*', generation: v });
    expect(Object.keys(versionEvent?.offsets ?? {}).length).toBeGreaterThan(0);

    const rolled = await runCli(['batch', 'rollback', '1', '--json'], { env });
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(JSON.parse(rolled.stdout)).toMatchObject({ version: v + 1, rollbackOf: 1 });
    expect((await new GenerationStore(client).current()).generation).toBe(v + 1);
    // The rollback serves v1 again, which predates MAC000006's readings: its buckets are removed,
    // nothing else changed (differences are taken against v, the last version told downstream).
    const afterRollback = (await consumeAll(config, changesTopic, await topicMessageCount(config, changesTopic)))
      .map((m) => decodeViewChange(m.value))
      .filter((e) => e.batchVersion === v + 1 && e.view === meter15m.name && e.grain === 'day');
    expect(afterRollback.length).toBeGreaterThan(300);
    for (const e of afterRollback) {
      expect(e.key.meter).toBe('lcl:MAC000006');
      expect(e.measures).toEqual({});
    }

    const unknown = await runCli(['batch', 'rollback', '99'], { env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('MF_BATCH_VERSION_UNKNOWN');

    const gc = await runCli(['batch', 'gc', '--keep', '1', '--json'], { env: { ...env, METERFLOW_BATCH__GC__ORPHAN_MIN_AGE_MS: '0' } });
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout)).toMatchObject({ kept: [v + 1] });

    const verified = await runCli(['batch', 'verify', '--json'], { env });
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ problems: [] });

    const versions = await runCli(['batch', 'versions', '--json'], { env });
    expect(versions.code, versions.stderr).toBe(0);
    const listed = JSON.parse(versions.stdout);
    expect(listed.publishedGeneration).toBe(v + 1);
    expect(listed.versions.map((x: { version: number; current: boolean }) => [x.version, x.current])).toEqual([[v + 1, true]]);
    expect(listed.versions[0].manifest.run).toMatchObject({ mode: 'rollback', baseVersion: 1 });
    const { rows } = await readBatchViewRows(con, layout, meter15m, 'day');
    expect(rows.length).toBeGreaterThan(300);
  });
});
