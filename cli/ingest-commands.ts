import { existsSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { createCassandra } from '../core/cassandra.ts';
import { MeterflowError } from '../core/errors.ts';
import { MeterRegistryStore } from '../core/meter-registry.ts';
import { createIngestPipeline } from '../ingest/pipeline/create-pipeline.ts';
import { readMeterFile } from '../ingest/registry/meter-file.ts';
import { readColumnMapping } from '../ingest/replay/column-mapping.ts';
import { replayFiles } from '../ingest/replay/replay.ts';
import { countLines, REPLAY_FORMATS, type ReplayFormat, replayFileList } from '../ingest/replay/replay-files.ts';
import { type PacingMode, simulatedFleet } from '../ingest/simulator/index.ts';
import { runSimulation } from '../ingest/simulator/run-simulation.ts';
import { ausgridMeters, lclMeters, opsdMeters } from '../ingest/sources/index.ts';
import type { Meter } from '../schemas/reading.ts';
import { contextFor } from './context.ts';
import { createProgress } from './progress.ts';

const DATASETS = ['lcl', 'opsd', 'ausgrid'] as const;

async function datasetMeters(dataset: (typeof DATASETS)[number], path: string): Promise<Meter[]> {
  if (!existsSync(path)) {
    const wants = {
      lcl: 'the households CSV (lcl-2013-households.csv)',
      opsd: 'the folder of household CSVs',
      ausgrid: 'the customer CSV',
    }[dataset];
    throw new MeterflowError('MF_BAD_REQUEST', `--dataset ${dataset} needs ${wants}; ${path} does not exist`);
  }
  if (dataset === 'lcl') return lclMeters(path);
  if (dataset === 'opsd') return opsdMeters(path);
  return ausgridMeters(path);
}

export function registerIngestCommands(program: Command): void {
  const meters = program.command('meters').description('the meter registry (stored in Cassandra)');

  meters
    .command('import')
    .description(
      'add or update meters from a CSV/JSON file (fields: meterId, siteId, region, timeZone, tariff, ratedKw, readingKind, intervalMinutes)',
    )
    .argument('<path>', 'the registry file; with --dataset, the data set file or folder the meters are derived from')
    .addOption(
      new Option('--dataset <name>', 'derive the meters of a real data set: lcl (households CSV), opsd (folder), ausgrid (file)').choices(
        DATASETS,
      ),
    )
    .action(async (path: string, opts: { dataset?: (typeof DATASETS)[number] }, cmd: Command) => {
      const { config } = contextFor(cmd);
      const list = opts.dataset ? await datasetMeters(opts.dataset, path) : await readMeterFile(path);
      const client = createCassandra(config);
      try {
        const n = await new MeterRegistryStore(client).upsert(list);
        process.stdout.write(`imported ${n} meters\n`);
      } finally {
        await client.shutdown();
      }
    });

  meters
    .command('list')
    .description('print the registry')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { config } = contextFor(cmd);
      const client = createCassandra(config);
      try {
        const all = await new MeterRegistryStore(client).all();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
          return;
        }
        process.stdout.write('meterId\tsiteId\tregion\ttimeZone\ttariff\tratedKw\treadingKind\tintervalMinutes\n');
        for (const m of all) {
          process.stdout.write(
            `${m.meterId}\t${m.siteId}\t${m.region}\t${m.timeZone}\t${m.tariff}\t${m.ratedKw}\t${m.readingKind}\t${m.intervalMinutes}\n`,
          );
        }
        process.stderr.write(`${all.length} meters\n`);
      } finally {
        await client.shutdown();
      }
    });

  const ingest = program.command('ingest').description('put readings on Kafka: replay files, simulate meters');

  registerSimulateCommand(ingest);

  ingest
    .command('replay')
    .description('validate and produce the readings of a file or folder; bad rows go to the dead-letter topic')
    .argument('<path>', 'a CSV file or a folder of them')
    .addOption(new Option('--format <format>', 'the file layout').choices(REPLAY_FORMATS).makeOptionMandatory())
    .option('--mapping <file>', 'for --format csv: a JSON column mapping (meter, time, value, timeFormat, intervalMinutes, ...)')
    .option(
      '--pace <pace>',
      'fast (file after file), realtime, or a speed-up such as 100000x (every file at once, in reading-time order, paced)',
      'fast',
    )
    .option('--json', 'print the summary as JSON')
    .action(async (path: string, opts: { format: ReplayFormat; mapping?: string; pace: string; json?: boolean }, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const pacing = parsePace(opts.pace);
      const mapping = opts.mapping ? await readColumnMapping(opts.mapping) : undefined;
      const files = await replayFileList(path);
      const client = createCassandra(config);
      let registry: Map<string, Meter>;
      try {
        registry = await new MeterRegistryStore(client).asMap();
      } finally {
        await client.shutdown();
      }
      const { pipeline, transport } = await createIngestPipeline(config, log, registry);
      const total = await countLines(files);
      const progress = createProgress('replay', total, 'lines', log);
      const started = Date.now();
      // A paced replay may wait long between readings: a signal ends it cleanly, with what was sent flushed.
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const result = await replayFiles(files, opts.format, pipeline, {
          ...(mapping ? { mapping } : {}),
          pacing,
          signal: controller.signal,
          onProgress: (p) => progress.update(p.lines),
        });
        progress.update(total);
        progress.stop();
        const seconds = (Date.now() - started) / 1000;
        const summary = { ...result, seconds, readingsPerSecond: Math.round(result.items / seconds) };
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else {
          process.stdout.write(
            `${result.files} files, ${result.items} items in ${seconds.toFixed(1)} s (${summary.readingsPerSecond}/s): ${result.accepted} accepted, ${result.deadLettered} dead-lettered\n`,
          );
          for (const [reason, n] of Object.entries(result.byReason)) process.stdout.write(`  ${reason.padEnd(26)} ${n}\n`);
        }
        if (controller.signal.aborted) {
          process.stderr.write('replay interrupted by a signal: the counts above are what was sent before it\n');
          process.exitCode = 130;
        }
      } finally {
        progress.stop();
        await transport.disconnect();
      }
    });
}

const INTERVALS = ['1', '15', '30', '60'];

/** "fast", "realtime" or a speed-up such as "60x". */
export function parsePace(text: string): PacingMode {
  if (text === 'fast') return { mode: 'as-fast-as-possible' };
  if (text === 'realtime') return { mode: 'real-time' };
  const m = /^(\d+(?:\.\d+)?)x$/.exec(text);
  if (m && Number(m[1]) > 0) return { mode: 'speed-up', factor: Number(m[1]) };
  throw new MeterflowError('MF_BAD_REQUEST', `--pace ${text}: use fast, realtime or a speed-up such as 60x`);
}

/** "dup=0.01,gap=0.005,late=0.01,bad=0.001" → fault rates. */
export function parseFaults(text: string, seed: number) {
  const names: Record<string, 'duplicateRate' | 'gapRate' | 'lateRate' | 'badValueRate'> = {
    dup: 'duplicateRate',
    gap: 'gapRate',
    late: 'lateRate',
    bad: 'badValueRate',
  };
  const faults: Record<string, number> = { seed };
  for (const part of text.split(',').filter(Boolean)) {
    const [name, value] = part.split('=');
    const key = names[name ?? ''];
    const rate = Number(value);
    if (key === undefined || !(rate >= 0 && rate <= 1)) {
      throw new MeterflowError('MF_BAD_REQUEST', `--faults ${part}: use NAME=RATE with NAME one of dup, gap, late, bad and RATE in 0..1`);
    }
    faults[key] = rate;
  }
  return faults as { seed: number; duplicateRate?: number; gapRate?: number; lateRate?: number; badValueRate?: number };
}

function parseTime(text: string, flag: string): number {
  const t = text === 'now' ? Date.now() : Date.parse(text);
  if (!Number.isFinite(t))
    throw new MeterflowError('MF_BAD_REQUEST', `${flag} ${text}: not an ISO-8601 time (e.g. 2026-01-01T00:00:00Z) or "now"`);
  return t;
}

export function registerSimulateCommand(ingest: Command): void {
  ingest
    .command('simulate')
    .description('produce readings of a simulated fleet (residential, commercial, PV) through validation onto Kafka')
    .option('--meters <n>', 'fleet size, 1 to 1,000,000', (v) => Number.parseInt(v, 10), 1_000)
    .addOption(new Option('--interval <minutes>', 'interval length').choices(INTERVALS).default('15'))
    .option('--seed <n>', 'random seed (same seed, same readings)', (v) => Number.parseInt(v, 10), 1)
    .option('--from <time>', 'first interval (ISO-8601 or now); default: one day before --to')
    .option('--to <time>', 'end of the simulated range (ISO-8601 or now); default now')
    .option('--follow', 'keep producing as simulated time passes (with --pace realtime: live meters)')
    .option('--pace <pace>', 'fast, realtime, or a speed-up such as 60x', 'fast')
    .option('--pv-share <share>', 'share of meters with PV', Number.parseFloat, 0.3)
    .option('--faults <spec>', 'inject faults, e.g. dup=0.01,gap=0.005,late=0.01,bad=0.001')
    .option('--no-register', 'do not add the simulated fleet to the meter registry first')
    .option('--json', 'print the summary as JSON')
    .action(async (opts, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      if (!(opts.meters >= 1 && opts.meters <= 1_000_000))
        throw new MeterflowError('MF_BAD_REQUEST', `--meters ${opts.meters}: use 1 to 1,000,000`);
      const pacing = parsePace(opts.pace);
      const intervalMinutes = Number(opts.interval) as 1 | 15 | 30 | 60;
      const end = opts.follow ? Number.POSITIVE_INFINITY : parseTime(opts.to ?? 'now', '--to');
      const start = opts.from ? parseTime(opts.from, '--from') : (Number.isFinite(end) ? end : Date.now()) - 86_400_000;
      if (!(start < end)) throw new MeterflowError('MF_BAD_REQUEST', '--from must be before --to');
      const fleetOptions = { seed: opts.seed, meters: opts.meters, intervalMinutes, pvShare: opts.pvShare };
      const fleet = [...simulatedFleet(fleetOptions)].map(
        ({ meterId, siteId, region, timeZone, tariff, ratedKw, readingKind, intervalMinutes: im }) => ({
          meterId,
          siteId,
          region,
          timeZone,
          tariff,
          ratedKw,
          readingKind,
          intervalMinutes: im,
        }),
      );
      if (opts.register) {
        const client = createCassandra(config);
        try {
          await new MeterRegistryStore(client).upsert(fleet);
        } finally {
          await client.shutdown();
        }
      }
      const { pipeline, transport } = await createIngestPipeline(config, log, new Map(fleet.map((m) => [m.meterId, m])));
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const step = intervalMinutes * 60_000;
      const total = Number.isFinite(end) ? Math.ceil((end - start) / step) * opts.meters : 0;
      const progress = createProgress('simulate', total, 'readings', log);
      const started = Date.now();
      try {
        const result = await runSimulation(pipeline, {
          // Only intervals that have ended by --to: a reading exists once its interval is over.
          simulation: { ...fleetOptions, start, end: end - step + 1 },
          pacing,
          ...(opts.faults ? { faults: parseFaults(opts.faults, opts.seed) } : {}),
          signal: controller.signal,
          onProgress: (n, t) => progress.update(n, new Date(t).toISOString()),
        });
        progress.stop();
        const seconds = (Date.now() - started) / 1000;
        const summary = { ...result, seconds, readingsPerSecond: Math.round(result.produced / seconds) };
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else {
          process.stdout.write(
            `${result.produced} readings in ${seconds.toFixed(1)} s (${summary.readingsPerSecond}/s): ${result.accepted} accepted, ${result.deadLettered} dead-lettered\n`,
          );
          for (const [reason, n] of Object.entries(result.byReason)) process.stdout.write(`  ${reason.padEnd(26)} ${n}\n`);
          if (result.faults) process.stdout.write(`  injected: ${JSON.stringify(result.faults)}\n`);
        }
      } finally {
        progress.stop();
        await transport.disconnect();
      }
    });
}
