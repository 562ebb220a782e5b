import type { Command } from 'commander';
import { runArchiver } from '../batch-layer/archive/archiver.ts';
import { readMasterManifest } from '../batch-layer/archive/master-manifest.ts';
import { collectGarbage } from '../batch-layer/gc.ts';
import { layoutFor } from '../batch-layer/layout.ts';
import { checkRangeOptions } from '../batch-layer/recompute/dirty-buckets.ts';
import { publishPendingChanges } from '../batch-layer/recompute/publish-changes.ts';
import { listVersions, rollback, type VersionManifest } from '../batch-layer/recompute/versions.ts';
import { verifyBatchData } from '../batch-layer/verify.ts';
import { type CassandraClient, createCassandra } from '../core/cassandra.ts';
import type { Config } from '../core/config.ts';
import { MeterflowError } from '../core/errors.ts';
import { GenerationStore } from '../core/generation-store.ts';
import { createKafka } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { JOB_NAMES, parseJobName, runJob, runLeasedJob } from '../jobs/jobs.ts';
import { JobLeases, withLease } from '../jobs/lease.ts';
import { startScheduler } from '../jobs/scheduler.ts';
import { contextFor } from './context.ts';
import { createProgress } from './progress.ts';

async function withCassandra<T>(config: Config, work: (client: CassandraClient) => Promise<T>): Promise<T> {
  const client = createCassandra(config);
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.shutdown();
  }
}

function print(json: boolean | undefined, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

function untilSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('signal'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return controller.signal;
}

/** Records left to archive: Σ over partitions of high watermark − resume offset. */
async function backlog(config: Config, log: Logger): Promise<number> {
  const manifest = await readMasterManifest(layoutFor(config).masterManifest);
  const admin = createKafka(config, log).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(config.kafka.topics.readings.name);
    return offsets.reduce((n, o) => {
      const resume = (manifest?.partitions[o.partition]?.lastOffset ?? Number(o.low) - 1) + 1;
      return n + Math.max(0, Number(o.high) - resume);
    }, 0);
  } finally {
    await admin.disconnect();
  }
}

export function registerBatchCommands(program: Command): void {
  program
    .command('archive')
    .description('archive the readings topic into the Parquet master dataset (under the "archive" job lease)')
    .option('--once', 'archive up to the current end of the topic, then exit')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { once?: boolean; json?: boolean }, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const total = opts.once ? await backlog(config, log) : 0;
      const progress = createProgress('archive', total, 'records', log);
      const signal = untilSignal();
      const result = await withCassandra(config, (cassandra) =>
        withLease(
          new JobLeases(cassandra),
          'archive',
          config.batch.jobs.leaseTtlSeconds,
          log,
          (leaseLost) =>
            runArchiver({
              config,
              log,
              kafka: createKafka(config, log),
              layout: layoutFor(config),
              once: opts.once === true,
              signal: AbortSignal.any([signal, leaseLost]),
              onProgress: (n) => progress.update(n),
            }),
          // Continuous archivers stand by for the lease (a second one is a hot spare); --once fails fast.
          opts.once ? undefined : { standby: true, signal },
        ),
      ).finally(() => progress.stop());
      print(
        opts.json,
        result,
        `${result.files.length} files, ${result.readings} readings (${result.skipped} undecodable skipped) in ${result.seconds.toFixed(1)} s; covered to ${JSON.stringify(result.covered)}`,
      );
    });

  const batch = program.command('batch').description('batch views: recompute, list versions, roll back, collect garbage');

  batch
    .command('run')
    .description(
      'recompute the views into a new version and publish it: by default only the buckets touched by readings archived since the served version, every other row carried forward (under the "recompute" job lease)',
    )
    .option(
      '--full',
      'recompute every bucket from the whole master dataset (the first run, and any run after a view or registry change, is full anyway)',
    )
    .option('--from <date>', 'also recompute every bucket of the UTC days from this date (YYYY-MM-DD, with --to)')
    .option('--to <date>', 'last UTC day (YYYY-MM-DD, included) of --from')
    .option('--json', 'print the version manifest as JSON')
    .action(async (opts: { full?: boolean; from?: string; to?: string; json?: boolean }, cmd: Command) => {
      const range = checkRangeOptions(opts);
      const { config, log } = contextFor(cmd);
      const m = await withCassandra(config, (cassandra) =>
        opts.full
          ? runLeasedJob('recompute-full', { config, log, cassandra })
          : runLeasedJob('recompute', { config, log, cassandra }, range ? { range } : {}),
      );
      const rows = Object.values(m.views).reduce((n, grains) => n + Object.values(grains).reduce((k, f) => k + f.rows, 0), 0);
      print(
        opts.json,
        m,
        `published batch version v${m.version} (${describeRun(m)}): ${m.master.rows} readings from ${m.master.files} files, ${rows} view rows in ${(m.timing.totalMs / 1000).toFixed(1)} s; offsets ${JSON.stringify(m.offsets)}`,
      );
    });

  batch
    .command('verify')
    .description('re-read every master and version file and compare its size and SHA-256 with its manifest')
    .option('--version <n...>', 'check only these versions (the master dataset is always checked)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { version?: string[]; json?: boolean }, cmd: Command) => {
      const { config } = contextFor(cmd);
      const versions = opts.version?.map((t) => {
        const n = Number(/^v?(\d+)$/.exec(t)?.[1] ?? Number.NaN);
        if (!Number.isSafeInteger(n)) throw new MeterflowError('MF_BAD_REQUEST', `--version ${t}: use a number such as 3 (or v3)`);
        return n;
      });
      const report = await verifyBatchData(layoutFor(config), versions);
      const lines = report.problems.map(
        (p) => `${p.where}: ${p.path}: ${p.problem}${p.expected !== undefined ? ` (expected ${p.expected}, found ${p.actual})` : ''}`,
      );
      print(
        opts.json,
        report,
        [
          `${report.filesChecked} files, ${(report.bytesChecked / 2 ** 20).toFixed(1)} MiB checked; ${report.problems.length} problems`,
          ...lines,
        ].join('\n'),
      );
      if (report.problems.length > 0) process.exitCode = 1;
    });

  batch
    .command('versions')
    .description('list batch versions (* marks CURRENT)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { config } = contextFor(cmd);
      const versions = await listVersions(layoutFor(config));
      const published = await withCassandra(config, (c) => new GenerationStore(c).current()).catch(() => undefined);
      if (opts.json) {
        print(true, { publishedGeneration: published?.generation ?? null, versions }, '');
        return;
      }
      process.stdout.write('version\tstate\tcreatedAt\treadings\trun\toffsets\n');
      for (const v of versions) {
        const m = v.manifest;
        const state = v.current ? '* current' : v.complete ? 'complete' : 'unfinished';
        const note = m?.rollbackOf !== undefined ? ` (rollback of v${m.rollbackOf})` : '';
        process.stdout.write(
          `v${v.version}\t${state}${note}\t${m?.createdAt ?? '-'}\t${m?.master.rows ?? '-'}\t${m ? describeRun(m) : '-'}\t${m ? JSON.stringify(m.offsets) : '-'}\n`,
        );
      }
      if (published) process.stderr.write(`published generation: ${published.generation}\n`);
    });

  batch
    .command('rollback')
    .description('serve an older complete version again: published as a NEW version and generation with the old offsets')
    .argument('<version>', 'the version to serve again, e.g. 3 or v3')
    .option('--json', 'print the new version manifest as JSON')
    .action(async (text: string, opts: { json?: boolean }, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const target = Number(/^v?(\d+)$/.exec(text)?.[1] ?? Number.NaN);
      if (!Number.isSafeInteger(target)) throw new MeterflowError('MF_BAD_REQUEST', `version ${text}: use a number such as 3 (or v3)`);
      const m = await withCassandra(config, (cassandra) =>
        withLease(new JobLeases(cassandra), 'recompute', config.batch.jobs.leaseTtlSeconds, log, () =>
          rollback(layoutFor(config), target, new GenerationStore(cassandra)),
        ),
      );
      await publishPendingChanges({ config, log, kafka: createKafka(config, log), layout: layoutFor(config) }).catch((err: unknown) =>
        log.error({ err, version: m.version }, 'batch view changes not published; the next batch run retries'),
      );
      print(opts.json, m, `published v${m.version} = the views of v${target}, offsets ${JSON.stringify(m.offsets)}`);
    });

  batch
    .command('gc')
    .description('delete old versions, unfinished runs and unlisted master files (under the "gc" job lease)')
    .option('--keep <n>', 'complete versions to keep (CURRENT is always kept); default batch.gc.keepVersions', (v) =>
      Number.parseInt(v, 10),
    )
    .option('--json', 'print the report as JSON')
    .action(async (opts: { keep?: number; json?: boolean }, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      if (opts.keep !== undefined && !(opts.keep >= 1)) throw new MeterflowError('MF_BAD_REQUEST', '--keep: use a number ≥ 1');
      const report = await withCassandra(config, (cassandra) =>
        withLease(new JobLeases(cassandra), 'gc', config.batch.jobs.leaseTtlSeconds, log, () =>
          collectGarbage(layoutFor(config), {
            keep: opts.keep ?? config.batch.gc.keepVersions,
            orphanMinAgeMs: config.batch.gc.orphanMinAgeMs,
          }),
        ),
      );
      print(
        opts.json,
        report,
        `kept ${report.kept.map((v) => `v${v}`).join(', ') || 'nothing'}; deleted versions [${report.deletedVersions.join(', ')}], unfinished [${report.deletedUnfinished.join(', ')}], ${report.deletedMasterOrphans.length} master orphans`,
      );
    });

  const jobs = program.command('jobs').description(`scheduled jobs (${JOB_NAMES.join(', ')}), one worker at a time per job`);

  jobs
    .command('start')
    .description('run the scheduler: each job on its cron expression (batch.jobs.*) under its lease, until SIGTERM/SIGINT')
    .action(async (_opts: unknown, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const signal = untilSignal();
      await withCassandra(config, async (cassandra) => {
        const scheduler = startScheduler({ config, log, cassandra });
        process.stderr.write(`scheduler running; next runs: ${JSON.stringify(scheduler.next())}\n`);
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        log.info('stopping: waiting for running jobs');
        await scheduler.stop();
      });
    });

  jobs
    .command('run')
    .description('run one job now, under its lease')
    .argument('<name>', JOB_NAMES.join(' | '))
    .option('--no-lease', 'run without taking the lease (only when no scheduler can run it)')
    .action(async (name: string, opts: { lease: boolean }, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const job = parseJobName(name);
      const result = await withCassandra(config, (cassandra) =>
        opts.lease ? runLeasedJob(job, { config, log, cassandra }) : runJob(job, { config, log, cassandra }),
      );
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
}

/** "incremental from v3: 650 rows recomputed, 52693 carried" — what operators see per version. */
function describeRun(m: VersionManifest): string {
  const r = m.run;
  if (r === undefined) return 'full';
  if (r.mode === 'full') return `full (${r.reason ?? 'asked'}): ${r.recomputedRows} rows`;
  if (r.mode === 'rollback') return `rollback of v${r.baseVersion}`;
  const what = r.mode === 'range' ? `range ${r.range?.from}..${r.range?.to}` : 'incremental';
  return `${what} from v${r.baseVersion}: ${r.recomputedRows} rows recomputed, ${r.carriedRows} carried`;
}
