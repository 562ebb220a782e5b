/**
 * Batch-layer benchmark: a full recompute of every catalog view at every grain (runRecompute, the
 * code `meterflow batch run` runs) over a generated Parquet master dataset, beside the raw DuckDB
 * query `GROUP BY meter, hour` over the same files, measured in the same process, interleaved run
 * by run. The goal (issue 5) is all views in ≤ 1.2× the raw query at 100 M readings; the default
 * size here is smaller so the benchmark finishes in minutes on a shared 2-core machine.
 *
 *   node --import tsx bench/batch.bench.ts [--meters 2000] [--days 30] [--runs 3] [--files 8]
 *   (or `npm run bench -- batch`, which also stores bench/results/batch.json and rewrites BENCHMARKS.md)
 *
 * The dataset: `--meters` meters × `--days` days of 30-minute interval readings (15 % of meters
 * with an export channel too), in Europe/London and Australia/Sydney, with the ToU and Std tariffs,
 * written by DuckDB as the archiver's files (the master schema, named and listed by offset range).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { addMasterFile, emptyMasterManifest, writeMasterManifest } from '../batch-layer/archive/master-manifest.ts';
import { batchLayout, masterFileName, sha256File } from '../batch-layer/layout.ts';
import { runRecompute } from '../batch-layer/recompute/recompute.ts';
import type { GenerationPublisher } from '../batch-layer/recompute/versions.ts';
import { READINGS_TABLE_DDL } from '../batch-layer/sql/tables.ts';
import { createLogger } from '../core/logger.ts';
import { GENERATION_ZERO, type Generation } from '../schemas/generation.ts';
import type { Meter } from '../schemas/reading.ts';
import { VIEWS } from '../schemas/views/index.ts';
import { machine, median } from './support/bench-env.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    meters: { type: 'string', default: '2000' },
    days: { type: 'string', default: '30' },
    runs: { type: 'string', default: '3' },
    files: { type: 'string', default: '8' },
  },
});
const meterCount = Number(args.meters);
const days = Number(args.days);
const runs = Number(args.runs);
const fileCount = Number(args.files);
const log = createLogger('bench-batch', 'warn');

/** Generations live in Cassandra in production; the benchmark measures the DuckDB work only. */
class InMemoryGenerations implements GenerationPublisher {
  private latest: Generation = GENERATION_ZERO;
  async current(): Promise<Generation> {
    return this.latest;
  }
  async publish(g: Generation): Promise<void> {
    this.latest = g;
  }
}

function fleet(): Meter[] {
  return Array.from({ length: meterCount }, (_, i) => ({
    meterId: `bench-${i}`,
    siteId: `site-${Math.floor(i / 4)}`,
    region: `region-${i % 12}`,
    timeZone: i % 10 === 0 ? 'Australia/Sydney' : 'Europe/London',
    tariff: i % 3 === 0 ? 'Std' : 'ToU',
    ratedKw: 30,
    readingKind: 'interval',
    intervalMinutes: 30,
  }));
}

/** Writes the master dataset (one partition per file) and its manifest; returns the reading count. */
async function writeMaster(dataDir: string): Promise<number> {
  const layout = batchLayout(dataDir);
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const start = Date.UTC(2024, 2, 1);
  const intervals = days * 48;
  await con.run(`CREATE TABLE readings ${READINGS_TABLE_DDL}`);
  // Deterministic values (hash of meter and interval), a daily shape, exports for 15 % of meters.
  await con.run(`
    INSERT INTO readings
    SELECT 'bench-' || m, ${start}::BIGINT + t * 1800000, 30, ch, 'interval',
      round(((hash(m * 100003 + t) % 1000) / 1000.0) * (CASE WHEN ch = 'import' THEN 0.6 ELSE 0.4 END), 3),
      'actual', 'bench', false, (m % ${fileCount})::INTEGER, 0
    FROM range(${meterCount}) a(m), range(${intervals}) b(t), (VALUES ('import'), ('export')) c(ch)
    WHERE ch = 'import' OR m % 7 = 0`);
  let manifest = emptyMasterManifest('meterflow.readings');
  let total = 0;
  for (let p = 0; p < fileCount; p++) {
    const n = Number((await con.runAndReadAll(`SELECT count(*) AS n FROM readings WHERE kafka_partition = ${p}`)).getRowObjectsJS()[0]?.n);
    if (n === 0) continue;
    const rel = masterFileName(p, 0, n - 1);
    const path = join(layout.masterDir, rel);
    mkdirSync(dirname(path), { recursive: true });
    await con.run(
      `COPY (SELECT * EXCLUDE (kafka_offset), (row_number() OVER (ORDER BY interval_start, meter_id, channel) - 1)::BIGINT AS kafka_offset
             FROM readings WHERE kafka_partition = ${p}) TO '${path}' (FORMAT parquet, COMPRESSION zstd)`,
    );
    manifest = addMasterFile(manifest, {
      path: rel,
      partition: p,
      firstOffset: 0,
      lastOffset: n - 1,
      rows: n,
      skipped: 0,
      bytes: 0,
      sha256: await sha256File(path),
      createdAt: new Date().toISOString(),
    });
    total += n;
  }
  await writeMasterManifest(layout.masterManifest, manifest);
  con.closeSync();
  db.closeSync();
  return total;
}

/** The baseline: what DuckDB alone takes to aggregate the same files by meter and hour. */
async function rawGroupBy(files: string[]): Promise<number> {
  const db = await DuckDBInstance.create(':memory:', { memory_limit: '2GB' });
  const con = await db.connect();
  const t = performance.now();
  await con.runAndReadAll(
    `SELECT count(*) FROM (SELECT meter_id, interval_start // 3600000 AS hour, sum(value) AS kwh
       FROM read_parquet($files) GROUP BY ALL)`,
    { files: listValue(files) },
  );
  const ms = performance.now() - t;
  con.closeSync();
  db.closeSync();
  return ms;
}

const work = mkdtempSync(join(tmpdir(), 'meterflow-batch-bench-'));
try {
  const t0 = performance.now();
  const readings = await writeMaster(work);
  const layout = batchLayout(work);
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(layout.masterDir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => join(layout.masterDir, f));
  const meters = fleet();
  console.log(
    `batch: ${readings.toLocaleString()} readings (${meterCount} meters × ${days} days), ${files.length} files, written in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${VIEWS.length} views; median of ${runs} runs`,
  );
  const raw: number[] = [];
  const full: number[] = [];
  const facts: number[] = [];
  const peakRss: number[] = [];
  const generations = new InMemoryGenerations();
  for (let r = 0; r < runs; r++) {
    raw.push(await rawGroupBy(files));
    const t = performance.now();
    // mode full: every run must recompute everything (runs after the first would be incremental).
    const manifest = await runRecompute({ layout, log, meters, generations, mode: 'full' });
    full.push(performance.now() - t);
    facts.push(manifest.timing.factsMs ?? 0);
    peakRss.push(process.memoryUsage().rss);
    console.log(
      `  run ${r + 1}: raw GROUP BY meter, hour ${(raw[r] as number).toFixed(0)} ms; full recompute ${(full[r] as number).toFixed(0)} ms (facts ${facts[r]} ms)`,
    );
  }
  const table = [
    {
      name: 'raw DuckDB GROUP BY meter, hour (baseline)',
      medianMs: Math.round(median(raw)),
      readingsPerSecond: Math.round(readings / (median(raw) / 1000)),
      ratio: 1,
    },
    {
      name: `full recompute, ${VIEWS.length} views × every grain`,
      medianMs: Math.round(median(full)),
      readingsPerSecond: Math.round(readings / (median(full) / 1000)),
      ratio: Number((median(full) / median(raw)).toFixed(2)),
    },
    {
      name: '  of which: interval facts (dedupe, registers, local time, prices)',
      medianMs: Math.round(median(facts)),
      readingsPerSecond: Math.round(readings / (median(facts) / 1000)),
      ratio: Number((median(facts) / median(raw)).toFixed(2)),
    },
  ];
  console.table(table);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'results', 'batch.json'),
    `${JSON.stringify(
      {
        benchmark: 'batch',
        date: new Date().toISOString(),
        machine: machine(),
        readings,
        meters: meterCount,
        days,
        runs,
        peakRssMiB: Math.round(Math.max(...peakRss) / 2 ** 20),
        table,
        notes: [
          'Same process, same files, interleaved run by run: the raw query first, then runRecompute (the `meterflow batch run` code, publishing a version each run).',
          'Full recompute = every view at every grain it serves, written as Parquet with checksums, plus the version manifest.',
          `Scaled down from the issue's 100 M readings to ${readings.toLocaleString()} so it runs in minutes here; the ratio is the figure to compare.`,
        ],
      },
      null,
      2,
    )}\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
