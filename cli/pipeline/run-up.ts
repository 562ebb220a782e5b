import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Config } from '../../core/config.ts';
import { MeterflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { LocalInfra } from '../../infra/local/local-infra.ts';
import { isPortFree } from '../../infra/local/ports.ts';
import { migrate } from '../../infra/migrate/migrate.ts';
import { countLines, replayFileList } from '../../ingest/replay/replay-files.ts';
import { printStatus } from '../infra-commands.ts';
import { readPipeline, runDirOf, writeStatusFile } from '../supervisor/run-dir.ts';
import { Supervisor } from '../supervisor/supervisor.ts';
import { type ChildContext, replayComponent, serviceComponents, simulateComponent } from './components.ts';
import { demoData, prepareDemo } from './demo-setup.ts';
import { watchFeedProgress } from './feed-progress.ts';
import { stopLeftovers } from './run-down.ts';
import { claimSupervisor, releaseSupervisor } from './run-files.ts';
import { printPipelineStatus } from './status.ts';
import { waitApiReady } from './wait-ready.ts';

export interface UpOptions {
  feed: boolean;
  replay?: string;
  /** fast, realtime or a speed-up such as 100000x (see pipeline.replaySpeedup). */
  replaySpeedup: string;
  simulateMeters: number;
  port?: number;
}

/**
 * `meterflow up`: Kafka and Cassandra (local or the configured clusters), migrations, the demo
 * registry and an API key, then the speed layer, archiver, job scheduler and API as supervised
 * children, then the feed (the real data replayed, then simulated meters live). Runs until
 * SIGINT/SIGTERM, then stops the children, last started first.
 */
export async function runUp(config: Config, log: Logger, child: ChildContext, o: UpOptions): Promise<void> {
  const runDir = runDirOf(config.stateDir);
  mkdirSync(runDir, { recursive: true });
  const claim = claimSupervisor(runDir);
  if (!claim.claimed) {
    process.stdout.write(`meterflow is already up (pid ${claim.holder.pid}); nothing started\n`);
    await printPipelineStatus(config, log);
    return;
  }
  await stopLeftovers(runDir, readPipeline(runDir).components, config.pipeline.stopTimeoutMs, log);
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) log.info({ signal }, 'stopping the pipeline');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const supervisor = new Supervisor({
    runDir,
    log,
    policy: config.pipeline,
    onChange: (s) => writeStatusFile(runDir, s),
  });
  let feed: Promise<void> | undefined;
  try {
    printStatus(await new LocalInfra(config, log).up());
    const migrated = await migrate(config, log);
    process.stdout.write(`topics     ${migrated.topics.map((t) => t.name).join(', ')}\nkeyspace   ${config.cassandra.keyspace}\n`);
    const data = o.feed ? demoData(config.pipeline.dataDir) : undefined;
    const demo = await prepareDemo(config, runDir, data?.households);
    if (stop.signal.aborted) return;

    const port = o.port ?? (config.serving.port === 0 ? await freePort(config.serving.host) : config.serving.port);
    // Found now, not after the API crash-looped on EADDRINUSE for minutes.
    if (!(await isPortFree(port, config.serving.host))) {
      throw new MeterflowError(
        'MF_PORT_IN_USE',
        `port ${port} (the API) is already in use by another process: stop it or choose another with --port or serving.port (environment: METERFLOW_SERVING__PORT)`,
        { details: { port, key: 'serving.port' } },
      );
    }
    for (const spec of serviceComponents(child, port)) supervisor.start(spec);
    // The feed needs Kafka only: it starts while the API warms up.
    if (o.feed && data) {
      feed = runFeed(config, log, child, supervisor, { ...o, replay: o.replay ?? data.readings }, stop.signal).catch((err: unknown) => {
        log.error({ err }, 'the feed failed');
        process.stderr.write(`meterflow: the feed failed: ${(err as Error).message}\n`);
      });
    }
    const url = `http://${config.serving.host}:${port}`;
    const apiFailed = () => supervisor.status().some((c) => c.state === 'failed');
    try {
      await waitApiReady(url, config.pipeline.readyTimeoutMs, () => !stop.signal.aborted && !apiFailed());
    } catch (err) {
      if (stop.signal.aborted) return; // Ctrl-C while starting: not an error
      const failed = supervisor.status().filter((c) => c.state === 'failed');
      if (failed.length === 0) throw err;
      throw new MeterflowError(
        'MF_PIPELINE_CRASH_LOOP',
        `${failed.map((c) => c.name).join(', ')} kept crashing and was given up; see ${failed.map((c) => c.logFile).join(', ')}`,
        { cause: err, details: { components: failed.map((c) => c.name) } },
      );
    }
    writeFileSync(join(runDir, 'api-url'), `${url}\n`);
    printReady(url, demo.apiKey, runDir, demo.meters);

    if (!o.feed)
      process.stdout.write('feed       off (--no-feed): put readings on Kafka with `meterflow ingest replay` or `ingest simulate`\n');
    await new Promise<void>((r) => (stop.signal.aborted ? r() : stop.signal.addEventListener('abort', () => r(), { once: true })));
  } finally {
    // Stopping ends the replay task too, which is what the feed waits for.
    await supervisor.stop();
    await feed;
    rmSync(join(runDir, 'api-url'), { force: true });
    releaseSupervisor(runDir);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (supervisor.status().length > 0) {
      const local = ['kafka', 'cassandra'] as const;
      const keepRunning = local.filter((n) => !new LocalInfra(config, log).isExternal(n));
      process.stdout.write(
        `pipeline stopped${keepRunning.length > 0 ? `; the local ${keepRunning.join(' and ')} keep running (\`npx meterflow down\` stops them)` : ''}\n`,
      );
    }
  }
}

function printReady(url: string, apiKey: string, runDir: string, meters: number): void {
  const series = `${url}/v1/views/meter_15m/series?key=meter%3Dlcl%3AMAC000002&from=2013-01-01&to=2013-02-01&grain=day`;
  process.stdout.write(
    [
      `components speed, archive, jobs, api (supervised; logs and pids in ${resolve(runDir)})`,
      `registry   ${meters} LCL households imported`,
      `dashboard  ${url}/`,
      `API docs   ${url}/docs`,
      `API key    ${apiKey}`,
      `try        curl -H "Authorization: Bearer ${apiKey}" '${series}'`,
      'stop       Ctrl-C (Kafka and Cassandra keep running; `npx meterflow down` stops everything)',
      '',
    ].join('\n'),
  );
}

/** The replay as a supervised task with a progress display, then the simulator in real time. */
async function runFeed(
  config: Config,
  log: Logger,
  child: ChildContext,
  supervisor: Supervisor,
  o: UpOptions & { replay: string },
  signal: AbortSignal,
): Promise<void> {
  const { replay: replayPath, simulateMeters } = o;
  const files = await replayFileList(replayPath);
  // Every LCL file has one header line.
  const total = (await countLines(files)) - files.length;
  process.stdout.write(
    `feed       replaying ${total} readings from ${files.length} files of ${replayPath} (pace ${o.replaySpeedup})${simulateMeters > 0 ? `, then ${simulateMeters} simulated meters in real time` : ''}\n`,
  );
  const progressDone = new AbortController();
  supervisor.start(replayComponent(child, replayPath, o.replaySpeedup, config));
  const watching = watchFeedProgress(config, log, total, AbortSignal.any([signal, progressDone.signal]));
  const outcome = await supervisor.waitFor('replay');
  progressDone.abort();
  await watching;
  if (outcome !== 'done') {
    if (outcome === 'failed') process.stderr.write(`meterflow: the replay failed; see ${join(runDirOf(config.stateDir), 'replay.log')}\n`);
    return;
  }
  process.stdout.write(
    `feed       replay finished${simulateMeters > 0 ? `; ${simulateMeters} simulated meters now report every 15 minutes` : ''}\n`,
  );
  if (simulateMeters > 0 && !signal.aborted) supervisor.start(simulateComponent(child, simulateMeters));
}

/** A port nobody listens on now, for serving.port 0 (the children must agree on one number). */
function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
