import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { LocalInfra, type ServiceName, type ServiceStatus } from '../infra/local/local-infra.ts';
import { migrate } from '../infra/migrate/migrate.ts';
import { contextFor } from './context.ts';

const onlyOption = () => new Option('--only <service>', 'act on one service only').choices(['kafka', 'cassandra']);
const only = (o: { only?: string }): ServiceName[] | undefined => (o.only ? [o.only as ServiceName] : undefined);

export function printStatus(statuses: ServiceStatus[]): void {
  for (const s of statuses) {
    const state = s.healthy ? 'healthy' : s.running ? 'unhealthy' : 'stopped';
    const pid = s.pid ? ` pid ${s.pid}` : '';
    process.stdout.write(`${s.name.padEnd(10)} ${state.padEnd(9)} ${s.mode.padEnd(8)} ${s.address}${pid}  ${s.detail}\n`);
    if (s.logFile && s.mode === 'local') process.stdout.write(`${''.padEnd(10)} logs: ${s.logFile}\n`);
  }
}

export function registerInfraCommands(program: Command): void {
  const infra = program.command('infra').description('local Kafka and Cassandra (no Docker): up, down, status, logs');

  infra
    .command('up')
    .description('fetch the jars once, start Kafka (KRaft) and Cassandra, wait until both answer')
    .addOption(onlyOption())
    .action(async (opts, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const statuses = await new LocalInfra(config, log).up(only(opts));
      printStatus(statuses);
      if (!statuses.every((s) => s.healthy)) process.exitCode = 1;
    });

  infra
    .command('down')
    .description('stop the Kafka and Cassandra processes this state folder started (SIGTERM, then wait)')
    .addOption(onlyOption())
    .action(async (opts, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      for (const r of await new LocalInfra(config, log).down(only(opts))) process.stdout.write(`${r.name.padEnd(10)} ${r.result}\n`);
    });

  infra
    .command('status')
    .description("each service's process and health; exit status 1 when one is not healthy")
    .addOption(onlyOption())
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const statuses = await new LocalInfra(config, log).status(only(opts));
      if (opts.json) process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
      else printStatus(statuses);
      if (!statuses.every((s) => s.healthy)) process.exitCode = 1;
    });

  infra
    .command('logs')
    .description("show the services' logs")
    .addOption(onlyOption())
    .option('-n, --lines <n>', 'lines per service', (v) => Number.parseInt(v, 10), 50)
    .option('-f, --follow', 'keep printing new lines')
    .action(async (opts, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const local = new LocalInfra(config, log);
      if (opts.follow) {
        const files = local.logFiles(only(opts)).filter((f) => existsSync(f));
        const tail = spawn('tail', ['-n', String(opts.lines), '-F', ...files], { stdio: 'inherit' });
        await new Promise((resolve) => tail.on('exit', resolve));
        return;
      }
      for (const l of local.logs(opts.lines, only(opts))) process.stdout.write(`==> ${l.name}: ${l.file}\n${l.text}\n`);
    });

  program
    .command('migrate')
    .description('create the Kafka topics and apply the CQL migrations (idempotent)')
    .action(async (_opts, cmd: Command) => {
      const { config, log } = contextFor(cmd);
      const result = await migrate(config, log);
      for (const t of result.topics) process.stdout.write(`topic     ${t.name.padEnd(28)} ${t.action} (${t.partitions} partitions)\n`);
      for (const m of result.cql)
        process.stdout.write(`cql       ${String(m.version).padStart(4, '0')}_${m.name.padEnd(23)} ${m.action}\n`);
    });
}
