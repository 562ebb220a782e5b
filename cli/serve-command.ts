import type { Command } from 'commander';
import { startServer } from '../serving-layer/runtime/start-server.ts';
import { contextFor } from './context.ts';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API (ingest, health, metrics, docs) on serving.host:serving.port')
    .option('--port <port>', 'listen on this port instead of serving.port (0: any free port)', (v) => Number.parseInt(v, 10))
    .option('--host <host>', 'listen on this address instead of serving.host')
    .action(async (opts: { port?: number; host?: string }, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      if (opts.port !== undefined) config.serving.port = opts.port;
      if (opts.host !== undefined) config.serving.host = opts.host;
      const server = await startServer(config, log);
      process.stdout.write(`meterflow API listening on ${server.url} (docs: ${server.url}/docs)\n`);

      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) return;
          stopping = true;
          log.info({ signal }, 'shutting down: no new requests, finishing in-flight ones, flushing to Kafka');
          // A shutdown that hangs (a broker that never acknowledges) must not hang the process manager.
          const deadline = setTimeout(() => {
            process.stderr.write(
              `meterflow: shutdown took longer than ${config.serving.shutdownTimeoutMs} ms (serving.shutdownTimeoutMs); exiting\n`,
            );
            process.exit(1);
          }, config.serving.shutdownTimeoutMs);
          deadline.unref();
          server
            .close()
            .catch((err: unknown) => log.error({ err }, 'shutdown failed'))
            .finally(() => {
              clearTimeout(deadline);
              resolve();
            });
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      process.stdout.write('meterflow API stopped\n');
    });
}
