/**
 * Ingest benchmark: readings/s from the simulator and from file replay into the local broker,
 * through the whole ingest path (validation, Avro, producer), with the kafkajs and the node-rdkafka
 * transports — beside kcat (librdkafka's own CLI) producing the same bytes in the same run.
 *
 *   npm run bench -- ingest          (results → bench/results/ingest.json, BENCHMARKS.md table)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../core/config.ts';
import { createKafka } from '../core/kafka.ts';
import { createLogger } from '../core/logger.ts';
import { migrateTopics } from '../infra/migrate/topics.ts';
import { createIngestPipeline } from '../ingest/pipeline/create-pipeline.ts';
import { replayFiles } from '../ingest/replay/replay.ts';
import { simulatedFleet, simulateReadings } from '../ingest/simulator/index.ts';
import { lclMeters } from '../ingest/sources/index.ts';
import { encodeReading } from '../schemas/avro/codec.ts';
import type { Meter, MeterReading } from '../schemas/reading.ts';
import { DATA_DIR } from '../test/support/data-dir.ts';
import { benchConfig, benchServices, machine, median } from './support/bench-env.ts';

const log = createLogger('bench', 'warn');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DATA = DATA_DIR;

async function freshTopic(config: Config): Promise<Config> {
  const name = `bench.readings.${randomUUID().slice(0, 8)}`;
  const c: Config = {
    ...config,
    kafka: {
      ...config.kafka,
      topics: {
        ...config.kafka.topics,
        readings: { ...config.kafka.topics.readings, name, partitions: 6 },
        deadLetters: { ...config.kafka.topics.deadLetters, name: `${name}.dl`, partitions: 1 },
      },
    },
  };
  await migrateTopics(createKafka(c, log), c, log);
  return c;
}

async function simulateRun(
  config: Config,
  transport: 'kafkajs' | 'rdkafka',
  sim: Parameters<typeof simulateReadings>[0],
  meters: Map<string, Meter>,
) {
  const c = await freshTopic({ ...config, ingest: { ...config.ingest, transport, batchSize: 10_000, maxInFlightBatches: 8 } });
  const { pipeline, transport: t } = await createIngestPipeline(c, log, meters);
  const started = performance.now();
  let n = 0;
  for (const reading of simulateReadings(sim)) {
    if (!pipeline.hasRoom()) await pipeline.ready();
    pipeline.offer({ reading, source: 'bench', origin: null });
    n++;
  }
  await pipeline.flush();
  const seconds = (performance.now() - started) / 1000;
  await t.disconnect();
  return n / seconds;
}

async function replayRun(config: Config, transport: 'kafkajs' | 'rdkafka', files: string[], meters: Map<string, Meter>) {
  const c = await freshTopic({
    ...config,
    ingest: { ...config.ingest, transport, batchSize: 10_000, maxInFlightBatches: 8, retentionDays: 36_500 },
  });
  const { pipeline, transport: t } = await createIngestPipeline(c, log, meters);
  const started = performance.now();
  const r = await replayFiles(files, 'lcl', pipeline);
  const seconds = (performance.now() - started) / 1000;
  await t.disconnect();
  return r.items / seconds;
}

/** kcat producing exactly the bytes the pipeline produces (same keys, same Avro values). */
async function kcatRun(config: Config, readings: MeterReading[]) {
  const c = await freshTopic(config);
  const encoded = readings.map((r) => ({ key: Buffer.from(r.meterId), value: encodeReading(r) }));
  // Delimiters that occur in no key or value, so kcat splits the file exactly.
  let delim: Buffer;
  let keyDelim: Buffer;
  do {
    // ASCII only: arguments reach kcat UTF-8 encoded, so bytes above 0x7f would change.
    delim = Buffer.from(randomBytes(8).map((b) => 1 + (b % 126)));
    keyDelim = Buffer.from(randomBytes(8).map((b) => 1 + (b % 126)));
  } while (encoded.some((m) => m.value.includes(delim) || m.value.includes(keyDelim) || m.key.includes(keyDelim)));
  const file = join(tmpdir(), `kcat-${randomUUID()}.bin`);
  const parts: Buffer[] = [];
  for (const m of encoded) parts.push(m.key, keyDelim, m.value, delim);
  writeFileSync(file, Buffer.concat(parts));
  const started = performance.now();
  const r = spawnSync(
    'kcat',
    [
      '-P',
      '-b',
      `127.0.0.1:${config.infra.kafka.port}`,
      '-t',
      c.kafka.topics.readings.name,
      '-K',
      keyDelim.toString('latin1'),
      '-D',
      delim.toString('latin1'),
      '-X',
      'enable.idempotence=true',
      '-X',
      'linger.ms=5',
      '-X',
      'batch.num.messages=10000',
      '-X',
      'compression.codec=lz4',
      '-X',
      'topic.partitioner=murmur2_random',
      '-X',
      'topic.acks=all',
      '-l',
      file,
    ],
    { encoding: 'latin1' },
  );
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`kcat failed: ${r.stderr}`);
  return readings.length / seconds;
}

export async function runIngestBench(): Promise<Record<string, unknown>> {
  const config = benchConfig({ ingest: { retentionDays: 36_500 } });
  const stop = await benchServices(config);
  try {
    const end = Date.UTC(2026, 0, 2);
    const sim = { seed: 1, meters: 5_000, intervalMinutes: 15 as const, start: end - 86_400_000, end };
    const meters = new Map([...simulatedFleet(sim)].map((m) => [m.meterId, m as Meter]));
    const readings = [...simulateReadings(sim)];
    const lcl = await lclMeters(join(DATA, 'lcl-2013-households.csv'));
    const lclMap = new Map(lcl.map((m) => [m.meterId, m]));
    const files = [
      'MAC000002',
      'MAC000003',
      'MAC000004',
      'MAC000005',
      'MAC000006',
      'MAC000007',
      'MAC000008',
      'MAC000009',
      'MAC000010',
      'MAC000011',
    ].map((f) => join(DATA, 'lcl-2013', `${f}.csv`));
    const results: Record<string, number[]> = {};
    const add = (name: string, v: number) => {
      results[name] ??= [];
      results[name].push(v);
    };
    let hasRdkafka = true;
    try {
      execFileSync(process.execPath, ['-e', "require('node-rdkafka')"], { stdio: 'ignore' });
    } catch {
      hasRdkafka = false;
    }
    for (let run = 0; run < RUNS; run++) {
      add('kcat (same bytes)', await kcatRun(config, readings));
      add('simulate → kafkajs', await simulateRun(config, 'kafkajs', sim, meters));
      if (hasRdkafka) add('simulate → node-rdkafka', await simulateRun(config, 'rdkafka', sim, meters));
      add('replay LCL → kafkajs', await replayRun(config, 'kafkajs', files, lclMap));
      if (hasRdkafka) add('replay LCL → node-rdkafka', await replayRun(config, 'rdkafka', files, lclMap));
      process.stderr.write(`ingest run ${run + 1}/${RUNS} done\n`);
    }
    const kcat = median(results['kcat (same bytes)'] ?? []);
    const table = Object.entries(results).map(([name, values]) => ({
      name,
      medianPerSecond: Math.round(median(values)),
      runs: values.map((v) => Math.round(v)),
      ratioToKcat: Number((median(values) / kcat).toFixed(2)),
    }));
    const out = {
      benchmark: 'ingest',
      date: new Date().toISOString(),
      machine: machine(),
      readings: readings.length,
      lclFiles: files.length,
      table,
    };
    mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
    writeFileSync(join(import.meta.dirname, 'results', 'ingest.json'), `${JSON.stringify(out, null, 2)}\n`);
    return out;
  } finally {
    await stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await runIngestBench();
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
