import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import { LocalInfra } from '../../infra/local/local-infra.ts';
import { printStatus } from '../infra-commands.ts';
import { readPipeline, runDirOf } from '../supervisor/run-dir.ts';
import { statusPrometheus, statusTable } from '../supervisor/status-text.ts';

export type StatusFormat = 'text' | 'json' | 'prometheus';

/** Prints the pipeline `up` runs (components, pids, restarts) and Kafka/Cassandra; true when all is well. */
export async function printPipelineStatus(config: Config, log: Logger, format: StatusFormat = 'text'): Promise<boolean> {
  const p = readPipeline(runDirOf(config.stateDir));
  const healthy = p.running && p.components.every((c) => c.state === 'running' || c.state === 'done');
  if (format === 'prometheus') {
    process.stdout.write(statusPrometheus(p.components, p.running));
    return healthy;
  }
  const infra = await new LocalInfra(config, log).status();
  const orphans = p.running ? 0 : p.components.filter((c) => c.pid !== undefined).length;
  if (format === 'json') {
    process.stdout.write(
      `${JSON.stringify({ pipeline: { running: p.running, pid: p.supervisor?.pid ?? null, url: p.url ?? null, components: p.components }, infra }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(
      p.running
        ? `pipeline   up, supervisor pid ${p.supervisor?.pid}${p.url ? `, dashboard ${p.url}/` : ''}\n`
        : `pipeline   not running (\`npm start\` starts it)${orphans > 0 ? `; ${orphans} components left running by an \`up\` that was killed: \`npx meterflow down\` stops them` : ''}\n`,
    );
    process.stdout.write(statusTable(p.components));
    printStatus(infra);
  }
  return healthy && infra.every((s) => s.healthy);
}
