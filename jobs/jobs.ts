import type { ArchiveResult } from '../batch-layer/archive/archiver.ts';
import { runArchiver } from '../batch-layer/archive/archiver.ts';
import { collectGarbage, type GcReport } from '../batch-layer/gc.ts';
import { layoutFor } from '../batch-layer/layout.ts';
import type { DateRange } from '../batch-layer/recompute/dirty-buckets.ts';
import { publishPendingChanges } from '../batch-layer/recompute/publish-changes.ts';
import { runRecompute } from '../batch-layer/recompute/recompute.ts';
import type { VersionManifest } from '../batch-layer/recompute/versions.ts';
import type { CassandraClient } from '../core/cassandra.ts';
import type { Config } from '../core/config.ts';
import { MeterflowError } from '../core/errors.ts';
import { GenerationStore } from '../core/generation-store.ts';
import { createKafka } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { MeterRegistryStore } from '../core/meter-registry.ts';
import { JobLeases, withLease } from './lease.ts';

/**
 * `recompute` is the incremental batch run (full only when nothing can be carried forward);
 * `recompute-full` recomputes everything (a periodic check that nothing drifted, and the run to
 * schedule after changing a view). Both hold the `recompute` lease: never two batch runs at once.
 */
export const JOB_NAMES = ['archive', 'recompute', 'recompute-full', 'gc'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** The batch.jobs key of each job's cron expression. */
export const JOB_SCHEDULE_KEY = {
  archive: 'archive',
  recompute: 'recompute',
  'recompute-full': 'recomputeFull',
  gc: 'gc',
} as const satisfies Record<JobName, keyof Config['batch']['jobs']>;

function leaseOf(name: JobName): string {
  return name === 'recompute-full' ? 'recompute' : name;
}

export interface JobOptions {
  /** recompute: also recompute every bucket of these days (`batch run --from/--to`). */
  range?: DateRange;
}

export interface JobContext {
  config: Config;
  log: Logger;
  cassandra: CassandraClient;
}

export interface JobResults {
  archive: ArchiveResult;
  recompute: VersionManifest;
  'recompute-full': VersionManifest;
  gc: GcReport;
}

export function parseJobName(name: string): JobName {
  if ((JOB_NAMES as readonly string[]).includes(name)) return name as JobName;
  throw new MeterflowError('MF_BAD_REQUEST', `unknown job ${JSON.stringify(name)}; jobs: ${JOB_NAMES.join(', ')}`);
}

/** One job, now, without a lease (callers take it: runLeasedJob). */
export async function runJob<N extends JobName>(
  name: N,
  ctx: JobContext,
  signal?: AbortSignal,
  options: JobOptions = {},
): Promise<JobResults[N]> {
  const { config, log, cassandra } = ctx;
  const layout = layoutFor(config);
  switch (name) {
    case 'archive':
      return (await runArchiver({
        config,
        log,
        kafka: createKafka(config, log),
        layout,
        once: true,
        ...(signal ? { signal } : {}),
      })) as JobResults[N];
    case 'recompute':
    case 'recompute-full': {
      const manifest = await runRecompute({
        layout,
        log,
        meters: await new MeterRegistryStore(cassandra).all(),
        generations: new GenerationStore(cassandra),
        memoryLimit: config.batch.recompute.memoryLimit,
        threads: config.batch.recompute.threads,
        mode: name === 'recompute-full' ? 'full' : 'auto',
        ...(options.range ? { range: options.range } : {}),
        ...(signal ? { signal } : {}),
      });
      // The version is served already; telling downstream is retried by the next run if it fails.
      await publishPendingChanges({ config, log, kafka: createKafka(config, log), layout }).catch((err: unknown) =>
        log.error({ err, version: manifest.version }, 'batch view changes not published; the next run retries'),
      );
      return manifest as JobResults[N];
    }
    default:
      return (await collectGarbage(layout, {
        keep: config.batch.gc.keepVersions,
        orphanMinAgeMs: config.batch.gc.orphanMinAgeMs,
      })) as JobResults[N];
  }
}

/** One job under its lease: MF_JOB_LEASE_HELD when another worker runs it now. */
export function runLeasedJob<N extends JobName>(name: N, ctx: JobContext, options: JobOptions = {}): Promise<JobResults[N]> {
  return withLease(new JobLeases(ctx.cassandra), leaseOf(name), ctx.config.batch.jobs.leaseTtlSeconds, ctx.log, (signal) =>
    runJob(name, ctx, signal, options),
  );
}
