import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { createCassandra } from '../core/cassandra.ts';
import { MeterflowError } from '../core/errors.ts';
import { MeterRegistryStore } from '../core/meter-registry.ts';
import { createIngestPipeline } from '../ingest/pipeline/create-pipeline.ts';
import { readMeterFile } from '../ingest/registry/meter-file.ts';
import { replayFiles } from '../ingest/replay/replay.ts';
import { countLines, REPLAY_FORMATS, type ReplayFormat, replayFileList } from '../ingest/replay/replay-files.ts';
import { ausgridMeters, type CsvColumnMapping, lclMeters, opsdMeters } from '../ingest/sources/index.ts';
import type { Meter } from '../schemas/reading.ts';
import { contextFor } from './context.ts';
import { createProgress } from './progress.ts';

const DATASETS = ['lcl', 'opsd', 'ausgrid'] as const;

async function datasetMeters(dataset: (typeof DATASETS)[number], path: string): Promise<Meter[]> {
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

  ingest
    .command('replay')
    .description('validate and produce the readings of a file or folder; bad rows go to the dead-letter topic')
    .argument('<path>', 'a CSV file or a folder of them')
    .addOption(new Option('--format <format>', 'the file layout').choices(REPLAY_FORMATS).makeOptionMandatory())
    .option('--mapping <file>', 'for --format csv: a JSON column mapping (meter, time, value, timeFormat, intervalMinutes, ...)')
    .option('--json', 'print the summary as JSON')
    .action(async (path: string, opts: { format: ReplayFormat; mapping?: string; json?: boolean }, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const mapping = opts.mapping ? await readMapping(opts.mapping) : undefined;
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
      try {
        const result = await replayFiles(files, opts.format, pipeline, {
          ...(mapping ? { mapping } : {}),
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
      } finally {
        progress.stop();
        await transport.disconnect();
      }
    });
}

async function readMapping(path: string): Promise<CsvColumnMapping> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as CsvColumnMapping;
  } catch (cause) {
    throw new MeterflowError('MF_BAD_REQUEST', `cannot read the column mapping ${path}: ${(cause as Error).message}`, { cause });
  }
}
