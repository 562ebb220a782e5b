import type { Command } from 'commander';
import { createCassandra } from '../core/cassandra.ts';
import { createKafka } from '../core/kafka.ts';
import { retryUntil } from '../core/retry.ts';
import { SpeedLayer } from '../speed-layer/speed-layer.ts';
import { contextFor } from './context.ts';
import { serveMetrics } from './metrics-server.ts';

export function registerSpeedCommand(program: Command): void {
  program
    .command('speed')
    .description('run a speed-layer process: fold readings from Kafka into real-time views in Cassandra')
    .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:PORT/metrics (0: off)', (v) => Number.parseInt(v, 10), 0)
    .action(async (opts: { metricsPort: number }, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const cassandra = createCassandra(config);
      // A speed process (re)started while Cassandra is down or restarting waits for it.
      await retryUntil('connecting to Cassandra', () => cassandra.connect(), { log, timeoutMs: config.speed.startupTimeoutMs });
      const speed = new SpeedLayer({
        config,
        log,
        kafka: createKafka(config, log),
        cassandra,
        // Exactly once does not depend on this process: exit and let the supervisor start a fresh one.
        onFatal: (err) => {
          log.fatal({ err: err.message }, 'speed layer cannot go on; exiting');
          process.exit(1);
        },
      });
      const metrics = opts.metricsPort > 0 ? await serveMetrics(opts.metricsPort, log) : undefined;
      await speed.start();
      log.info({ group: config.speed.groupId, topic: config.kafka.topics.readings.name }, 'speed layer running');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      log.info('stopping: final flush');
      await speed.stop();
      await Promise.race([cassandra.shutdown(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      metrics?.close();
      log.info('stopped');
      // A consumer stopped during a group rejoin can leave kafkajs retry timers behind; nothing
      // is left to do, so they must not keep the process alive.
      process.exit(0);
    });
}
