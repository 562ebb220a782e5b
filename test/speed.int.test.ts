import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CassandraClient, createCassandra } from '../core/cassandra.ts';
import type { Config } from '../core/config.ts';
import { GenerationStore } from '../core/generation-store.ts';
import { createKafka } from '../core/kafka.ts';
import { createLogger } from '../core/logger.ts';
import { MeterRegistryStore } from '../core/meter-registry.ts';
import { LocalInfra } from '../infra/local/local-infra.ts';
import { createIngestPipeline } from '../ingest/pipeline/create-pipeline.ts';
import { replayFiles } from '../ingest/replay/replay.ts';
import { lclMeters } from '../ingest/sources/index.ts';
import { decodeViewChange } from '../schemas/avro/codec.ts';
import type { Meter } from '../schemas/reading.ts';
import { encodeRowKey, finalizeStates, meter15m, plusStates } from '../schemas/views/index.ts';
import { SpeedLayer } from '../speed-layer/speed-layer.ts';
import { SpeedStore } from '../speed-layer/store/speed-store.ts';
import { DATA_DIR } from './support/data-dir.ts';
import { consumeAll, topicMessageCount, withFreshTopics } from './support/kafka-helpers.ts';
import { dumpSpeedRows, foldReference, spawnSpeed, waitForSpeedCaughtUp, withFreshKeyspace } from './support/speed-helpers.ts';
import { testConfig } from './support/test-config.ts';

// The speed layer on the real local Kafka and Cassandra, fed with real London households.
const DATA = DATA_DIR;
// Three households (~52,000 readings, a year each) keep the file well inside the test budget.
const HOUSEHOLDS = ['MAC000002', 'MAC000003', 'MAC000004'];
const FILES = HOUSEHOLDS.map((h) => join(DATA, 'lcl-2013', `${h}.csv`));
const log = createLogger('test-speed', 'warn');

async function setUp(keyspace: string): Promise<{ config: Config; meters: Meter[] }> {
  const base = testConfig({
    ingest: { retentionDays: 36_500 },
    // A short session: each kill -9 leaves a dead member the group waits out before rebalancing.
    speed: { groupId: `test-speed-${randomUUID()}`, flushIntervalMs: 200, sessionTimeoutMs: 10_000 },
  });
  const config = await withFreshKeyspace(await withFreshTopics(base, 3), keyspace);
  const meters = await lclMeters(join(DATA, 'lcl-2013-households.csv'));
  const client = createCassandra(config);
  await new MeterRegistryStore(client).upsert(meters);
  await client.shutdown();
  return { config, meters };
}

async function replay(config: Config, meters: Meter[], files = FILES): Promise<number> {
  const { pipeline, transport } = await createIngestPipeline(config, log, new Map(meters.map((m) => [m.meterId, m])));
  try {
    return (await replayFiles(files, 'lcl', pipeline)).accepted;
  } finally {
    await transport.disconnect();
  }
}

/** Per meter and UTC day, import kWh straight from the CSV files with DuckDB (duplicates counted once). */
async function duckdbDailyTotals(files: string[]): Promise<Map<string, number>> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
  const reader = await con.runAndReadAll(`
    WITH raw AS (
      SELECT trim(LCLid) AS id, CAST(tstp AS TIMESTAMP) AS ts, TRY_CAST(trim("energy(kWh/hh)") AS DOUBLE) AS kwh
      FROM read_csv([${list}], header = true, all_varchar = true)
    ), dedup AS (SELECT DISTINCT id, ts, kwh FROM raw WHERE kwh IS NOT NULL)
    SELECT id, CAST(date_trunc('day', ts) AS VARCHAR) AS day, sum(kwh) AS kwh, count(*) AS n FROM dedup GROUP BY ALL`);
  const out = new Map<string, number>();
  for (const row of reader.getRowObjects()) out.set(`lcl:${row.id}|${String(row.day).slice(0, 10)}`, Number(row.kwh));
  con.closeSync();
  return out;
}

async function speedDailyTotals(config: Config, client: CassandraClient, meterIds: string[]): Promise<Map<string, number>> {
  const store = new SpeedStore(client, { writeConcurrency: 1, rowTtlSeconds: 0 });
  const out = new Map<string, number>();
  for (const id of meterIds) {
    const rows = await store.readRows(meter15m.name, 0, encodeRowKey(['meter'], [id]), 'day', Date.UTC(2013, 0, 1), Date.UTC(2014, 0, 1));
    const byBucket = new Map<number, ReturnType<typeof plusStates>>();
    for (const r of rows) byBucket.set(r.bucket, plusStates(meter15m, byBucket.get(r.bucket) ?? {}, r.states));
    for (const [bucket, states] of byBucket) {
      out.set(`${id}|${new Date(bucket).toISOString().slice(0, 10)}`, finalizeStates(meter15m, states).importKwh as number);
    }
  }
  void config;
  return out;
}

describe('speed layer on real Kafka and Cassandra', () => {
  let config: Config;
  let meters: Meter[];
  let client: CassandraClient;
  let accepted: number;

  beforeAll(async () => {
    ({ config, meters } = await setUp('meterflow_speed_a'));
    accepted = await replay(config, meters);
    client = createCassandra(config);
    await client.connect();
  });
  afterAll(async () => {
    await client?.shutdown();
  });

  it('folds a replay of LCL households into per-meter daily totals equal to DuckDB over the same CSVs', { timeout: 400_000 }, async () => {
    const speed = new SpeedLayer({ config, log, kafka: createKafka(config, log), cassandra: client });
    await speed.start();
    try {
      await waitForSpeedCaughtUp(config, 240_000, client);
    } finally {
      await speed.stop();
    }
    const expected = await duckdbDailyTotals(FILES);
    const actual = await speedDailyTotals(
      config,
      client,
      HOUSEHOLDS.map((h) => `lcl:${h}`),
    );
    expect(accepted).toBeGreaterThan(45_000);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, kwh] of expected) expect(Math.abs((actual.get(k) ?? Number.NaN) - kwh), k).toBeLessThan(1e-6);
  });

  it('publishes view changes that decode with the .avsc and match the Cassandra rows', async () => {
    const n = await topicMessageCount(config, config.kafka.topics.viewChanges.name);
    expect(n).toBeGreaterThan(0);
    const events = (await consumeAll(config, config.kafka.topics.viewChanges.name, n)).map((m) => ({
      key: m.key,
      change: decodeViewChange(m.value),
    }));
    // The latest event per key is what a compacted topic keeps; it must equal the stored row.
    const latest = new Map<string, ReturnType<typeof decodeViewChange>>();
    for (const e of events) latest.set(e.key as string, e.change);
    const rows = await dumpSpeedRows(config);
    let compared = 0;
    for (const [key, change] of latest) {
      if (change.view !== meter15m.name || change.grain !== 'day') continue;
      const [view, grain, rowKey, bucket, partition] = key.split('|');
      const stored = rows.get(`${view}|${grain}|${rowKey}|${bucket}|${partition}`);
      expect(stored, key).toBeDefined();
      const values = finalizeStates(meter15m, JSON.parse(stored as string));
      expect(change.measures.importKwh).toBeCloseTo(values.importKwh as number, 9);
      expect(change.cause).toBe('SPEED_FLUSH');
      compared++;
    }
    expect(compared).toBeGreaterThan(300);
  });

  it('rebuilds a new generation from the offsets a batch publication names, holding exactly the readings after them', {
    timeout: 300_000,
  }, async () => {
    const admin = createKafka(config, log).admin();
    await admin.connect();
    const high = new Map((await admin.fetchTopicOffsets(config.kafka.topics.readings.name)).map((o) => [o.partition, Number(o.high)]));
    await admin.disconnect();
    // As if a batch run had covered all but the last 500 readings of each partition.
    const offsets: Record<number, number> = {};
    for (const [p, h] of high) offsets[p] = Math.max(-1, h - 501);
    const fast = { ...config, speed: { ...config.speed, refreshIntervalMs: 300 } };
    const speed = new SpeedLayer({ config: fast, log, kafka: createKafka(fast, log), cassandra: client });
    await speed.start();
    try {
      await new GenerationStore(client).publish({ generation: 1, offsets, publishedAt: Date.now() }, '{"test":true}');
      await waitForSpeedCaughtUp(config, 270_000, client, 1);
    } finally {
      await speed.stop();
    }
    // Reference: fold exactly the readings after B[p], per partition.
    const messages = await consumeAll(
      config,
      config.kafka.topics.readings.name,
      [...high.values()].reduce((a, b) => a + b, 0),
    );
    const expected = foldReference(messages, meters, (p) => offsets[p] ?? -1);
    const actual = await dumpSpeedRows(config, 1);
    expect(actual.size).toBe(expected.size);
    expect(actual.size).toBeGreaterThan(0);
    for (const [k, v] of expected) expect(actual.get(k), k).toBe(v);
    // Generation 0 is untouched (the serving layer keeps using it until generation 1 is complete).
    expect((await dumpSpeedRows(config, 0)).size).toBeGreaterThan(actual.size);
  });

  it('is exact with two processes, one killed -9 at random moments during a replay, and after Cassandra restarts mid-stream', {
    timeout: 600_000,
  }, async () => {
    const started = Date.now();
    const phase = (step: string) => log.warn({ step, seconds: (Date.now() - started) / 1000 }, 'speed kill test timing');
    const { config: killed } = await setUp('meterflow_speed_b');
    const files = FILES.slice(0, 2);
    const producing = replay(killed, meters, files);
    // A second process stays alive throughout: partitions move between two live members of the
    // group at every kill and join, not only from a dead process to the next one.
    const steady = spawnSpeed(killed);
    let kills = 0;
    for (let round = 0; round < 10; round++) {
      const child = spawnSpeed(killed);
      await new Promise((r) => setTimeout(r, 1_500 + Math.random() * 2_500));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      kills++;
    }
    const produced = await producing;
    phase('10 kills done, replay produced');

    // One more run, with the Cassandra node stopped and started again while it works.
    const survivor = spawnSpeed(killed);
    const infra = new LocalInfra(testConfig(), log);
    if (!infra.isExternal('cassandra')) {
      await new Promise((r) => setTimeout(r, 2_000));
      await infra.down(['cassandra']);
      await new Promise((r) => setTimeout(r, 3_000));
      await infra.up(['cassandra']);
      phase('cassandra restarted');
    }
    await waitForSpeedCaughtUp(killed, 300_000);
    phase('survivor caught up');
    // Both lived through the kills and the Cassandra restart (neither exited on its own).
    const alive = [survivor.exitCode, steady.exitCode];
    // And each stops on SIGTERM within speed.stopTimeoutMs (15 s) plus start-up slack, even mid-rebalance.
    const stoppedInTime: boolean[] = [];
    for (const child of [survivor, steady]) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<boolean>((r) => child.once('exit', () => r(true)));
      child.kill('SIGTERM');
      stoppedInTime.push(await Promise.race([exited, new Promise<boolean>((r) => setTimeout(() => r(false), 45_000))]));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    expect(alive).toEqual([null, null]);
    expect(stoppedInTime).toEqual([true, true]);

    // Reference: every reading on the topic folded once, in memory, per partition.
    const messages = await consumeAll(killed, killed.kafka.topics.readings.name, produced);
    const expected = foldReference(messages, meters, () => -1);
    const after = await dumpSpeedRows(killed);
    expect(kills).toBe(10);
    expect(after.size).toBe(expected.size);
    for (const [k, states] of expected) expect(after.get(k), k).toBe(states);
  });
});
