/**
 * Speed-layer benchmark: sustained readings/s from Kafka to Cassandra (a backlog folded and
 * flushed until caught up), beside a bare kafkajs consumer that only decodes the same topic; and
 * freshness (reading acknowledged by Kafka → its view change published, which happens after the
 * Cassandra write) at a steady produce rate.
 *
 *   npm run bench -- speed        (BENCH_SPEED_METERS, BENCH_FRESHNESS_RATE, BENCH_FRESHNESS_SECONDS)
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCassandra } from '../core/cassandra.ts';
import type { Config } from '../core/config.ts';
import { createKafka } from '../core/kafka.ts';
import { createLogger } from '../core/logger.ts';
import { MeterRegistryStore } from '../core/meter-registry.ts';
import { migrate } from '../infra/migrate/migrate.ts';
import { createIngestPipeline } from '../ingest/pipeline/create-pipeline.ts';
import { simulatedFleet, simulateReadings } from '../ingest/simulator/index.ts';
import { decodeReading, decodeViewChange } from '../schemas/avro/codec.ts';
import type { Meter } from '../schemas/reading.ts';
import { SpeedLayer } from '../speed-layer/speed-layer.ts';
import { SpeedStore } from '../speed-layer/store/speed-store.ts';
import { benchConfig, benchServices, machine, median } from './support/bench-env.ts';

const log = createLogger('bench', 'warn');
const METERS = Number(process.env.BENCH_SPEED_METERS ?? 2_000);
const RATE = Number(process.env.BENCH_FRESHNESS_RATE ?? 50_000);
const SECONDS = Number(process.env.BENCH_FRESHNESS_SECONDS ?? 20);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RDKAFKA = await import('node-rdkafka').then(
  () => true,
  () => false,
);

/**
 * Fresh topics, consumer group AND keyspace for each measurement: the speed checkpoints are per
 * (generation, partition), so a keyspace shared between runs makes a later run look caught up
 * before it has read anything.
 */
async function fresh(config: Config, fleet: Meter[]): Promise<Config> {
  const id = randomUUID().slice(0, 8);
  const c: Config = {
    ...config,
    cassandra: { ...config.cassandra, keyspace: `meterflow_bench_speed_${id}` },
    speed: { ...config.speed, groupId: `bench-speed-${id}` },
    kafka: {
      ...config.kafka,
      topics: {
        readings: { ...config.kafka.topics.readings, name: `bench.speed.${id}`, partitions: 6 },
        deadLetters: { ...config.kafka.topics.deadLetters, name: `bench.speed.${id}.dl`, partitions: 1 },
        viewChanges: { ...config.kafka.topics.viewChanges, name: `bench.speed.${id}.vc`, partitions: 6 },
      },
    },
  };
  await migrate(c, log);
  const cassandra = createCassandra(c);
  await new MeterRegistryStore(cassandra).upsert(fleet);
  await cassandra.shutdown();
  return c;
}

async function dropKeyspace(c: Config): Promise<void> {
  const admin = createCassandra(c, { keyspace: false });
  try {
    await admin.execute(`DROP KEYSPACE IF EXISTS ${c.cassandra.keyspace}`);
  } finally {
    await admin.shutdown();
  }
}

async function loadBacklog(c: Config, meters: Map<string, Meter>, start: number, end: number): Promise<number> {
  const { pipeline, transport } = await createIngestPipeline(
    { ...c, ingest: { ...c.ingest, transport: 'kafkajs', batchSize: 10_000 } },
    log,
    meters,
  );
  for (const reading of simulateReadings({ seed: 1, meters: METERS, intervalMinutes: 15, start, end })) {
    if (!pipeline.hasRoom()) await pipeline.ready();
    pipeline.offer({ reading, source: 'bench', origin: null });
  }
  await pipeline.flush();
  await transport.disconnect();
  return pipeline.stats.accepted;
}

async function caughtUp(c: Config, store: SpeedStore, admin: ReturnType<ReturnType<typeof createKafka>['admin']>): Promise<boolean> {
  const offsets = await admin.fetchTopicOffsets(c.kafka.topics.readings.name);
  const checkpoints = await store.checkpoints(0);
  return offsets.every((o) => {
    const cp = checkpoints.find((x) => x.partition === o.partition);
    return cp?.caughtUp === true && cp.throughOffset >= Number(o.high) - 1;
  });
}

/** Baseline: a bare kafkajs consumer group reading and decoding the same backlog. */
async function rawConsume(c: Config, expected: number): Promise<number> {
  const consumer = createKafka(c, log).consumer({ groupId: `bench-raw-${randomUUID()}`, maxBytesPerPartition: 4 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic: c.kafka.topics.readings.name, fromBeginning: true });
  let n = 0;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            decodeReading(m.value as Buffer);
            n++;
          }
          if (n >= expected) resolve();
        },
      })
      .catch(reject);
  });
  const seconds = (performance.now() - started) / 1000;
  await consumer.disconnect();
  return n / seconds;
}

async function sustained(config: Config, meters: Map<string, Meter>) {
  const c = await fresh(config, [...meters.values()]);
  const end = Date.UTC(2026, 0, 2);
  const n = await loadBacklog(c, meters, end - 86_400_000, end);
  const raw = await rawConsume(c, n);
  const cassandra = createCassandra(c);
  await cassandra.connect();
  const admin = createKafka(c, log).admin();
  await admin.connect();
  const store = new SpeedStore(cassandra, { writeConcurrency: 1, rowTtlSeconds: 0 });
  const speed = new SpeedLayer({ config: c, log, kafka: createKafka(c, log), cassandra });
  const started = performance.now();
  await speed.start();
  while (!(await caughtUp(c, store, admin))) await new Promise((r) => setTimeout(r, 100));
  const seconds = (performance.now() - started) / 1000;
  await speed.stop();
  await admin.disconnect();
  await cassandra.shutdown();
  await dropKeyspace(c);
  return { readings: n, speed: n / seconds, raw };
}

async function freshness(config: Config, meters: Map<string, Meter>) {
  const c = await fresh(config, [...meters.values()]);
  const cassandra = createCassandra(c);
  await cassandra.connect();
  const speed = new SpeedLayer({ config: c, log, kafka: createKafka(c, log), cassandra });
  await speed.start();
  // Wall-clock readings of the current 15-minute interval, produced at RATE/s; a meter's reading is
  // visible when a view change for its 15-minute bucket arrives.
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  const consumer = createKafka(c, log).consumer({ groupId: `bench-vc-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: c.kafka.topics.viewChanges.name, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = performance.now();
      for (const m of batch.messages) {
        const change = decodeViewChange(m.value as Buffer);
        if (change.view !== 'meter_15m' || change.grain !== '15m') continue;
        const id = `${change.key.meter}|${change.bucketStart}`;
        const t = sent.get(id);
        if (t !== undefined) {
          latencies.push(now - t);
          sent.delete(id);
        }
      }
    },
  });
  const { pipeline, transport } = await createIngestPipeline(
    // node-rdkafka when it is installed: kafkajs alone does not produce 50,000 readings/s here.
    { ...c, ingest: { ...c.ingest, transport: RDKAFKA ? 'rdkafka' : 'kafkajs', batchSize: 1_000 } },
    log,
    meters,
  );
  const ids = [...meters.keys()];
  const step = 900_000;
  const started = performance.now();
  let produced = 0;
  // Every reading a new (meter, interval) in the recent past, so each one changes a row.
  const base = Math.floor(Date.now() / step) * step - Math.ceil((RATE * SECONDS) / ids.length + 2) * step;
  while (performance.now() - started < SECONDS * 1_000) {
    const due = Math.floor(((performance.now() - started) / 1000) * RATE);
    while (produced < due) {
      // The pipeline's back-pressure: at most maxInFlightBatches unacknowledged batches.
      if (!pipeline.hasRoom()) await pipeline.ready();
      const meterId = ids[produced % ids.length] as string;
      const s = base + Math.floor(produced / ids.length) * step;
      const reading = {
        meterId,
        intervalStart: s,
        intervalMinutes: 15,
        channel: 'import' as const,
        kind: 'interval' as const,
        value: 0.1,
        quality: 'actual' as const,
        source: 'bench',
        correction: false,
      };
      void pipeline.enqueue({ reading, source: 'bench', origin: null }).then((o) => {
        if (o.status === 'accepted') sent.set(`${meterId}|${s}`, performance.now());
      });
      produced++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await pipeline.flush();
  await new Promise((r) => setTimeout(r, 3_000));
  await consumer.disconnect();
  await transport.disconnect();
  await speed.stop();
  await cassandra.shutdown();
  await dropKeyspace(c);
  const sorted = [...latencies].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return { rate: RATE, achievedRate: produced / SECONDS, observed: latencies.length, unseen: sent.size, p50: q(0.5), p99: q(0.99) };
}

export async function runSpeedBench() {
  const config = benchConfig({ speed: { flushIntervalMs: 250 } });
  const stop = await benchServices(config);
  try {
    const fleet = [...simulatedFleet({ seed: 1, meters: METERS, intervalMinutes: 15 })].map((m) => ({ ...m }) as Meter);
    const meters = new Map(fleet.map((m) => [m.meterId, m]));
    const runs: Awaited<ReturnType<typeof sustained>>[] = [];
    for (let i = 0; i < RUNS; i++) {
      runs.push(await sustained(config, meters));
      process.stderr.write(`speed run ${i + 1}/${RUNS}: ${Math.round(runs[i]?.speed ?? 0)} readings/s\n`);
    }
    const fresh = await freshness(config, meters);
    const speed = median(runs.map((r) => r.speed));
    const raw = median(runs.map((r) => r.raw));
    const out = {
      benchmark: 'speed',
      date: new Date().toISOString(),
      machine: machine(),
      meters: METERS,
      backlogReadings: runs[0]?.readings,
      table: [
        {
          name: 'speed layer, Kafka → fold → Cassandra (+ view changes)',
          medianPerSecond: Math.round(speed),
          runs: runs.map((r) => Math.round(r.speed)),
          ratioToRaw: Number((speed / raw).toFixed(3)),
        },
        {
          name: 'bare kafkajs consumer, decode only (baseline)',
          medianPerSecond: Math.round(raw),
          runs: runs.map((r) => Math.round(r.raw)),
          ratioToRaw: 1,
        },
      ],
      notes: [
        `Sustained: ${METERS} simulated meters, one day of 15-minute readings put on a fresh 6-partition topic first, then the speed layer (in this process, with its default flush settings except flushIntervalMs 250) starts and the clock runs until every partition's checkpoint is caught up; each run has its own topics, consumer group and keyspace.`,
        'Baseline: a bare kafkajs consumer group decoding the same backlog (no fold, no writes).',
        'Freshness: readings of new (meter, 15-minute interval) pairs produced at the target rate (node-rdkafka when installed), from the broker ack to the arrival of the view change of its meter_15m 15-minute row (published after the Cassandra write). "observed 0" means no change arrived within 3 s of the end: the layer was behind the rate.',
      ],
      freshness: {
        targetRate: fresh.rate,
        achievedRate: Math.round(fresh.achievedRate),
        observed: fresh.observed,
        notSeenWithin3s: fresh.unseen,
        p50Ms: Math.round(fresh.p50),
        p99Ms: Math.round(fresh.p99),
      },
    };
    mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
    writeFileSync(join(import.meta.dirname, 'results', 'speed.json'), `${JSON.stringify(out, null, 2)}\n`);
    return out;
  } finally {
    await stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await runSpeedBench(), null, 2)}\n`);
  if (process.env.BENCH_SPEED_METRICS === '1')
    process.stdout.write(
      (await (await import('prom-client')).register.metrics())
        .split('\n')
        .filter((l) => l.startsWith('meterflow_speed_flush') || l.startsWith('meterflow_speed_readings'))
        .join('\n'),
    );
}
