/**
 * `npm run bench [-- NAME...]` (`-- --report-only`: no run, just BENCHMARKS.md): runs the benchmarks (all, or the named ones), each beside its
 * baseline measured in the same run, stores each result in bench/results/NAME.json and rewrites
 * BENCHMARKS.md from every stored result.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const HERE = import.meta.dirname;
const BENCHES: Record<string, { file: string; goal: string }> = {
  ingest: { file: 'ingest.bench.ts', goal: '≥ 300,000 readings/s with node-rdkafka, within 2× of kcat' },
  fold: { file: 'fold.bench.ts', goal: 'the speed layer’s in-memory fold must not be the bottleneck of ≥ 100,000 readings/s' },
  speed: { file: 'speed.bench.ts', goal: '≥ 100,000 readings/s sustained; p99 freshness ≤ 1 s at 50,000 readings/s' },
  batch: {
    file: 'batch.bench.ts',
    goal: 'full recompute of every view ≤ 1.2× the raw DuckDB GROUP BY meter, hour over the same files; peak memory ≤ 2 GiB',
  },
  serving: {
    file: 'serving.bench.ts',
    goal: 'GET /v1/views/{view}/series at 200 connections: (a) one meter, one month by day p99 ≤ 20 ms; (b) a 1,000-meter region, one year by month p99 ≤ 150 ms; 0 errors',
  },
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted) {
  if (!(name in BENCHES)) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
}
// `--report-only`: rewrite BENCHMARKS.md from the stored results without running anything.
const run = process.argv.includes('--report-only') ? [] : wanted.length > 0 ? wanted : Object.keys(BENCHES);
for (const name of run) {
  const bench = BENCHES[name] as { file: string };
  if (!existsSync(join(HERE, bench.file))) {
    process.stderr.write(`skipping ${name}: ${bench.file} not written yet\n`);
    continue;
  }
  process.stderr.write(`\n=== bench ${name}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(HERE, bench.file)], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' },
  });
  if (r.status !== 0) process.stderr.write(`bench ${name} failed (exit ${r.status})\n`);
}
writeBenchmarksMd();

function writeBenchmarksMd(): void {
  const dir = join(HERE, 'results');
  const results = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>)
    : [];
  const lines = [
    '# meterflow benchmarks',
    '',
    'Written by `npm run bench` (`npm run bench -- NAME` for one) from `bench/results/*.json`. Every figure is',
    'the median of several runs beside a baseline measured in the same run on the same machine; the machines',
    'here are shared and noisy, so read the ratios more than the absolute numbers. Kafka and Cassandra run on',
    'the same 2 cores as the code under test.',
    '',
  ];
  for (const r of results) {
    const name = String(r.benchmark);
    lines.push(`## ${name}`, '', `- date: ${r.date}`, `- machine: ${r.machine}`, `- goal: ${BENCHES[name]?.goal ?? ''}`);
    for (const [k, v] of Object.entries(r)) {
      if (['benchmark', 'date', 'machine', 'table', 'notes'].includes(k)) continue;
      lines.push(`- ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
    }
    lines.push('');
    const table = (r.table ?? []) as Record<string, unknown>[];
    if (table.length > 0) {
      const cols = Object.keys(table[0] as object);
      lines.push(`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`);
      for (const row of table)
        lines.push(`| ${cols.map((c) => (Array.isArray(row[c]) ? (row[c] as unknown[]).join(', ') : String(row[c]))).join(' | ')} |`);
      lines.push('');
    }
    if (Array.isArray(r.notes)) for (const n of r.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  writeFileSync(join(HERE, '..', 'BENCHMARKS.md'), `${lines.join('\n').trimEnd()}\n`);
  process.stderr.write('BENCHMARKS.md written\n');
}
