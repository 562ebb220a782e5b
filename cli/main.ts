import { Command } from 'commander';
import { MeterflowError } from '../core/errors.ts';
import { registerBatchCommands } from './batch-commands.ts';
import { registerInfraCommands } from './infra-commands.ts';
import { registerIngestCommands } from './ingest-commands.ts';
import { registerKeysCommands } from './keys-commands.ts';
import { registerServeCommand } from './serve-command.ts';
import { registerSpeedCommand } from './speed-command.ts';
import { registerUpCommand } from './up-command.ts';

// `meterflow meters list | head`: a closed pipe ends the command quietly, as in other Unix tools.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('meterflow')
  .description('Lambda-architecture analytics for smart electricity meters')
  .option('-c, --config <file>', 'config file (default: meterflow.yaml in the working directory, or $METERFLOW_CONFIG)')
  .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent')
  .showHelpAfterError();

registerUpCommand(program);
registerInfraCommands(program);
registerIngestCommands(program);
registerSpeedCommand(program);
registerServeCommand(program);
registerKeysCommands(program);
registerBatchCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof MeterflowError) {
    process.stderr.write(`meterflow: ${err.code}: ${err.message}\n`);
    process.exitCode = err.code === 'MF_CONFIG_INVALID' || err.code === 'MF_CONFIG_FILE_UNREADABLE' ? 2 : 1;
  } else {
    process.stderr.write(`meterflow: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
  // Exit now: a half-started command (a Kafka client that connected before another step failed)
  // leaves sockets and retry timers that would keep a failed process alive and idle, which a
  // supervisor cannot tell from a working one.
  process.exit(process.exitCode);
}
