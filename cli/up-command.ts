import type { Command } from 'commander';
import { LocalInfra } from '../infra/local/local-infra.ts';
import { migrate } from '../infra/migrate/migrate.ts';
import { contextFor } from './context.ts';
import { printStatus } from './infra-commands.ts';

/**
 * `meterflow up` (npm start): the whole pipeline on this machine. Today: local Kafka and Cassandra
 * (or the configured clusters), topics and tables. The data flow, API and dashboard join it as
 * their layers land.
 */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('start the whole pipeline locally: Kafka, Cassandra, topics and tables')
    .action(async (_opts, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const statuses = await new LocalInfra(config, log).up();
      const result = await migrate(config, log);
      printStatus(statuses);
      process.stdout.write(
        `topics:   ${result.topics.map((t) => t.name).join(', ')}\nkeyspace: ${config.cassandra.keyspace} (${result.cql.length} migrations)\n` +
          'stop with: npx meterflow infra down\n',
      );
    });
}
