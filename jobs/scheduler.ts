import { Cron } from 'croner';
import { isMeterflowError, MeterflowError } from '../core/errors.ts';
import { JOB_NAMES, JOB_SCHEDULE_KEY, type JobContext, type JobName, runLeasedJob } from './jobs.ts';

export interface Scheduler {
  /** Next run of each scheduled job. */
  next(): Record<string, string | null>;
  /** Stops scheduling and waits for running jobs to end. */
  stop(): Promise<void>;
}

/**
 * `meterflow jobs start`: each job on its cron expression (batch.jobs.<JOB_SCHEDULE_KEY>; "off" disables one).
 * croner's `protect` skips a tick while the previous run of the same job is still going in this
 * process; the Cassandra lease keeps other workers from running it at the same time.
 */
export function startScheduler(ctx: JobContext, onRun?: (job: JobName, outcome: 'done' | 'skipped' | 'failed') => void): Scheduler {
  const log = ctx.log.child({ component: 'jobs' });
  const running = new Set<Promise<unknown>>();
  const crons: Cron[] = [];
  for (const name of JOB_NAMES) {
    const pattern = ctx.config.batch.jobs[JOB_SCHEDULE_KEY[name]];
    if (pattern === 'off') continue;
    let cron: Cron;
    try {
      cron = new Cron(pattern, { name: `meterflow-${name}`, protect: true, paused: true }, async () => {
        const started = Date.now();
        const run = runLeasedJob(name, ctx).then(
          () => {
            log.info({ job: name, seconds: (Date.now() - started) / 1000 }, 'job done');
            onRun?.(name, 'done');
          },
          (err) => {
            if (isMeterflowError(err, 'MF_JOB_LEASE_HELD') || isMeterflowError(err, 'MF_BATCH_NO_DATA')) {
              log.info({ job: name, reason: err.message }, 'job skipped');
              onRun?.(name, 'skipped');
            } else {
              log.error({ job: name, err }, 'job failed');
              onRun?.(name, 'failed');
            }
          },
        );
        running.add(run);
        await run;
        running.delete(run);
      });
    } catch (cause) {
      for (const c of crons) c.stop();
      throw new MeterflowError(
        'MF_CONFIG_INVALID',
        `batch.jobs.${JOB_SCHEDULE_KEY[name]}: ${JSON.stringify(pattern)} is not a cron expression: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    crons.push(cron);
  }
  for (const c of crons) c.resume();
  log.info({ jobs: Object.fromEntries(crons.map((c) => [c.name, c.nextRun()?.toISOString() ?? null])) }, 'scheduler started');
  return {
    next: () => Object.fromEntries(crons.map((c) => [c.name ?? '', c.nextRun()?.toISOString() ?? null])),
    async stop() {
      for (const c of crons) c.stop();
      await Promise.allSettled([...running]);
    },
  };
}
