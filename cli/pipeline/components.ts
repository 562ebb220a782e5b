import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../core/config.ts';
import type { ComponentSpec } from '../supervisor/supervisor.ts';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'meterflow.mjs');

/** How the children find the same configuration as `up`: its --config and --log-level, and its environment. */
export interface ChildContext {
  globalArgs: string[];
  env: NodeJS.ProcessEnv;
}

/** A `meterflow <args>` child process. */
export function meterflowChild(
  ctx: ChildContext,
  name: string,
  args: string[],
  restart: ComponentSpec['restart'],
  env: NodeJS.ProcessEnv = {},
): ComponentSpec {
  return {
    name,
    command: process.execPath,
    args: [BIN, ...ctx.globalArgs, ...args],
    env: { ...ctx.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', ...env },
    restart,
  };
}

/**
 * The long-running layers, in start order (stopped in reverse): the speed layer first so it is
 * folding before readings arrive, the API last so its URL is printed once the rest runs.
 */
export function serviceComponents(ctx: ChildContext, apiPort: number): ComponentSpec[] {
  return [
    meterflowChild(ctx, 'speed', ['speed'], 'always'),
    meterflowChild(ctx, 'archive', ['archive'], 'always'),
    // The archiver above archives continuously: the scheduler's periodic archive run would only
    // contend for the same job lease.
    meterflowChild(ctx, 'jobs', ['jobs', 'start'], 'always', { METERFLOW_BATCH__JOBS__ARCHIVE: 'off' }),
    meterflowChild(ctx, 'api', ['serve', '--port', String(apiPort)], 'always'),
  ];
}

/** The replay of the real data: a task, done when the files are on Kafka. */
export function replayComponent(ctx: ChildContext, path: string, pace: string, config: Config): ComponentSpec {
  // The demo data is from 2011–2014: the replay alone reaches back that far; live ingest (API,
  // simulator) keeps the configured ingest.retentionDays.
  const retentionDays = String(Math.max(config.ingest.retentionDays, 36_500));
  return meterflowChild(ctx, 'replay', ['ingest', 'replay', path, '--format', 'lcl', '--pace', pace], 'on-failure', {
    METERFLOW_INGEST__RETENTION_DAYS: retentionDays,
  });
}

/** Live meters in real time, from one day ago onwards (so today's charts are not empty). */
export function simulateComponent(ctx: ChildContext, meters: number): ComponentSpec {
  return meterflowChild(ctx, 'simulate', ['ingest', 'simulate', '--meters', String(meters), '--follow', '--pace', 'realtime'], 'always');
}
