import { type Command, Option } from 'commander';
import { MeterflowError } from '../core/errors.ts';
import { contextFor } from './context.ts';
import { parsePace } from './ingest-commands.ts';
import { runDown } from './pipeline/run-down.ts';
import { runUp } from './pipeline/run-up.ts';
import { printPipelineStatus, type StatusFormat } from './pipeline/status.ts';

const int = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new MeterflowError('MF_BAD_REQUEST', `${flag} ${v}: use a whole number ≥ 0`);
  return n;
};

/** The global options `up` was given, passed on to its children so they load the same configuration. */
function globalArgs(cmd: Command): string[] {
  const root = cmd.optsWithGlobals() as { config?: string; logLevel?: string };
  return [...(root.config ? ['--config', root.config] : []), ...(root.logLevel ? ['--log-level', root.logLevel] : [])];
}

/**
 * `meterflow up` (npm start), `down` and `status`: the whole pipeline on one machine. Each
 * component also runs alone (`meterflow speed`, `serve`, …) for deployments over several machines.
 */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description(
      'start the whole pipeline: Kafka, Cassandra, migrations, then the speed layer, archiver, job scheduler and API as supervised processes, fed with the real data replayed and simulated meters; Ctrl-C stops it',
    )
    .option('--no-feed', 'start the pipeline without putting any readings on Kafka')
    .option('--data <dir>', 'the real meter data (lcl-2013/ and lcl-2013-households.csv); default pipeline.dataDir')
    .option(
      '--replay-speedup <pace>',
      'replay pace: a speed-up such as 100000x (all meters in reading-time order), fast (file after file) or realtime; default pipeline.replaySpeedup',
    )
    .option('--replay <path>', 'LCL files (a file or a folder) to replay instead of <data>/lcl-2013')
    .option(
      '--simulate-meters <n>',
      'simulated meters reporting live after the replay (0: none); default pipeline.simulateMeters',
      int('--simulate-meters'),
    )
    .option('--port <port>', 'API port instead of serving.port', int('--port'))
    .action(
      async (
        opts: { feed: boolean; data?: string; replay?: string; replaySpeedup?: string; simulateMeters?: number; port?: number },
        cmd: Command,
      ) => {
        const { config, log } = contextFor(cmd);
        if (opts.data !== undefined) config.pipeline.dataDir = opts.data;
        const replaySpeedup = opts.replaySpeedup ?? config.pipeline.replaySpeedup;
        parsePace(replaySpeedup); // a bad value fails here, not in the replay child later
        await runUp(
          config,
          log,
          { globalArgs: globalArgs(cmd), env: process.env },
          {
            feed: opts.feed,
            replaySpeedup,
            simulateMeters: opts.simulateMeters ?? config.pipeline.simulateMeters,
            ...(opts.replay === undefined ? {} : { replay: opts.replay }),
            ...(opts.port === undefined ? {} : { port: opts.port }),
          },
        );
      },
    );

  program
    .command('down')
    .description('stop the pipeline `up` started (SIGTERM, then SIGKILL after pipeline.stopTimeoutMs), then the local Kafka and Cassandra')
    .action(async (_opts: unknown, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      await runDown(config, log);
    });

  program
    .command('status')
    .description('the pipeline `up` runs: each component, its pid, state and restarts, and Kafka/Cassandra; exit status 1 unless all run')
    .addOption(
      new Option('--format <format>', 'text, json, or prometheus (text exposition format)')
        .choices(['text', 'json', 'prometheus'])
        .default('text'),
    )
    .action(async (opts: { format: StatusFormat }, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      if (!(await printPipelineStatus(config, log, opts.format))) process.exitCode = 1;
    });
}
