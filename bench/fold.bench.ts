/**
 * Speed-layer fold benchmark: ViewFold throughput (readings/s) and flush cost (µs per changed row)
 * with every catalog view, on simulated 15-minute data (1 day), at 100, 500 and 2,000 meters, for
 * readings in log order and for a shuffled variant with re-sends and corrections.
 *
 *   node --import tsx bench/fold.bench.ts [--runs 5] [--sizes 100,500,2000] [--no-baseline] [--baseline-ref REF]
 *   (or `npm run bench -- fold`, which also stores bench/results/fold.json and rewrites BENCHMARKS.md)
 *
 * Each figure is the median of `--runs` runs, each on a fresh fold. The baseline is the fold as
 * committed at `--baseline-ref` (default HEAD; 22d7648 is the first, unoptimised fold):
 * speed-layer/fold/*.ts extracted to a temp folder, its other imports pointed back at this checkout
 * (so schemas/views is the working copy's for both), measured in the same process, on the same
 * data, interleaved run by run.
 * Besides one big flush after folding everything, "sustained" folds with a bounded flush every
 * 10,000 readings (the speed layer's loop) and reports readings/s over the whole thing, and the
 * heap the fold then holds per reading (after a full GC).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { simulatedFleet, simulateReadings } from '../ingest/simulator/index.ts';
import type { MeterReading } from '../schemas/reading.ts';
import { meterLookup, VIEWS } from '../schemas/views/index.ts';
import { ViewFold } from '../speed-layer/fold/index.ts';
import { seededRng } from '../test/support/seeded-rng.ts';
import { machine } from './support/bench-env.ts';

interface FoldLike {
  fold(reading: MeterReading, offset: number): unknown;
  flush(limit?: number): { partials: unknown[] };
}
type FoldFactory = (meters: ReturnType<typeof meterLookup>) => FoldLike;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const START = Date.UTC(2024, 0, 15);
const DAY = 86_400_000;
const SLICE = 10_000;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    sizes: { type: 'string', default: '100,500,2000' },
    'no-baseline': { type: 'boolean', default: false },
    'baseline-ref': { type: 'string', default: 'HEAD' },
  },
});
const runs = Number(args.runs);
const sizes = (args.sizes as string).split(',').map(Number);

/** The HEAD version of speed-layer/fold, importable beside the working copy. */
async function baselineFactory(ref: string): Promise<FoldFactory | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'meterflow-fold-baseline-'));
  const folder = 'speed-layer/fold';
  let files: string[];
  try {
    files = execFileSync('git', ['ls-tree', '--name-only', `${ref}:${folder}`], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  } catch {
    return undefined;
  }
  mkdirSync(join(dir, folder), { recursive: true });
  for (const file of files) {
    const source = execFileSync('git', ['show', `${ref}:${folder}/${file}`], { cwd: ROOT, encoding: 'utf8' });
    // Imports inside the folder stay relative; everything else points back at this checkout.
    const rewritten = source.replace(/from '(\.[^']+)'/g, (whole, spec: string) => {
      const target = resolve(ROOT, folder, spec);
      if (!relative(join(ROOT, folder), target).startsWith('..')) return whole;
      return `from '${pathToFileURL(target).href}'`;
    });
    writeFileSync(join(dir, folder, file), rewritten);
  }
  const mod = (await import(pathToFileURL(join(dir, folder, 'view-fold.ts')).href)) as { ViewFold: typeof ViewFold };
  return (meters) => new mod.ViewFold({ partition: 0, views: VIEWS, meters });
}

/** In log order; or shuffled with 10% re-sends and 1% corrections mixed in. Offsets are arrival order. */
function workload(meters: number, shuffled: boolean): MeterReading[] {
  const readings = [...simulateReadings({ seed: 1, meters, intervalMinutes: 15, start: START, end: START + DAY })];
  if (!shuffled) return readings;
  const random = seededRng(meters);
  const out = [...readings];
  for (const r of readings) {
    const u = random();
    if (u < 0.1) out.push({ ...r });
    else if (u < 0.11) out.push({ ...r, value: Math.round(r.value * 1.1 * 1000) / 1000, correction: true });
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as MeterReading, out[i] as MeterReading];
  }
  return out;
}

// A full GC before each heap reading, without asking for --expose-gc on the command line.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Sample {
  /** Heap held by the fold after the sustained run (every row flushed), per reading folded. */
  heapBytesPerReading: number;
  foldPerSec: number;
  flushUsPerRow: number;
  rows: number;
  sustainedPerSec: number;
}

function measure(factory: FoldFactory, lookup: ReturnType<typeof meterLookup>, readings: readonly MeterReading[]): Sample {
  const fold = factory(lookup);
  let t0 = performance.now();
  for (let i = 0; i < readings.length; i++) fold.fold(readings[i] as MeterReading, i);
  const foldMs = performance.now() - t0;
  t0 = performance.now();
  const rows = fold.flush().partials.length;
  const flushMs = performance.now() - t0;
  return {
    ...measureSustained(factory, lookup, readings),
    foldPerSec: readings.length / (foldMs / 1000),
    flushUsPerRow: (flushMs * 1000) / Math.max(1, rows),
    rows,
  };
}

/** In a function of its own so the first fold is out of scope (and collected) before the heap is read. */
function measureSustained(
  factory: FoldFactory,
  lookup: ReturnType<typeof meterLookup>,
  readings: readonly MeterReading[],
): Pick<Sample, 'heapBytesPerReading' | 'sustainedPerSec'> {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const steady = factory(lookup);
  const t0 = performance.now();
  for (let i = 0; i < readings.length; i++) {
    steady.fold(readings[i] as MeterReading, i);
    if (i % SLICE === SLICE - 1) steady.flush();
  }
  steady.flush();
  const steadyMs = performance.now() - t0;
  gc();
  const heapBytesPerReading = (process.memoryUsage().heapUsed - heapBefore) / readings.length;
  if (steady.flush().partials.length !== 0) throw new Error('the fold is not clean after its last flush');
  return { heapBytesPerReading, sustainedPerSec: readings.length / (steadyMs / 1000) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const impls: { name: string; factory: FoldFactory }[] = [
  { name: 'current', factory: (meters) => new ViewFold({ partition: 0, views: VIEWS, meters }) },
];
if (!args['no-baseline']) {
  const ref = args['baseline-ref'] as string;
  const baseline = await baselineFactory(ref);
  if (baseline === undefined) console.error(`no baseline at git ${ref}; measuring the working copy only`);
  else impls.unshift({ name: `baseline (${ref})`, factory: baseline });
}

console.log(`ViewFold, ${VIEWS.length} views, 15-minute data, 1 day; median of ${runs} runs; node ${process.version}`);
console.log(
  ['impl', 'meters', 'data', 'readings', 'fold r/s', 'flush rows', 'flush µs/row', `sustained r/s (flush/${SLICE})`, 'heap B/reading'].join(
    ' | ',
  ),
);
const table: Record<string, unknown>[] = [];
for (const size of sizes) {
  const lookup = meterLookup(simulatedFleet({ seed: 1, meters: size, intervalMinutes: 15 }));
  for (const shuffled of [false, true]) {
    const readings = workload(size, shuffled);
    const samples = new Map<string, Sample[]>(impls.map((i) => [i.name, []]));
    for (let run = 0; run < runs; run++) {
      for (const impl of impls) samples.get(impl.name)?.push(measure(impl.factory, lookup, readings));
    }
    for (const impl of impls) {
      const s = samples.get(impl.name) as Sample[];
      table.push({
        impl: impl.name,
        meters: size,
        data: shuffled ? 'shuffled+dup' : 'in order',
        readings: readings.length,
        foldPerSecond: Math.round(median(s.map((x) => x.foldPerSec))),
        flushRows: s[0]?.rows,
        flushMicrosPerRow: Number(median(s.map((x) => x.flushUsPerRow)).toFixed(2)),
        sustainedPerSecond: Math.round(median(s.map((x) => x.sustainedPerSec))),
        heapBytesPerReading: Math.round(median(s.map((x) => x.heapBytesPerReading))),
      });
      console.log(
        [
          impl.name,
          size,
          shuffled ? 'shuffled+dup' : 'in order',
          readings.length,
          fmt(median(s.map((x) => x.foldPerSec))),
          s[0]?.rows,
          fmt(median(s.map((x) => x.flushUsPerRow)), 2),
          fmt(median(s.map((x) => x.sustainedPerSec))),
          fmt(median(s.map((x) => x.heapBytesPerReading))),
        ].join(' | '),
      );
    }
  }
}

mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(
  join(ROOT, 'bench', 'results', 'fold.json'),
  `${JSON.stringify(
    {
      benchmark: 'fold',
      date: new Date().toISOString(),
      machine: machine(),
      runs,
      views: VIEWS.length,
      table,
      notes: [
        'ViewFold alone, in memory: readings pre-generated (simulateReadings, seed 1, 15-minute data, 1 day).',
        `fold: fold every reading, then one flush of every row (flush µs/row). sustained: fold with a flush every ${SLICE} readings.`,
        'shuffled+dup: 10% exact re-sends and 1% corrections mixed in, then shuffled; offsets are arrival order.',
        'heap B/reading: heap held by the fold after the sustained run (all rows flushed, after a full GC), per reading folded: the state the speed layer keeps per reading since the batch offset.',
      ],
    },
    null,
    2,
  )}\n`,
);
