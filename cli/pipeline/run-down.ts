import { join } from 'node:path';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import { LocalInfra } from '../../infra/local/local-infra.ts';
import { isAlive, type PidRecord, readPidRecord } from '../supervisor/process-record.ts';
import { readPipeline, runDirOf } from '../supervisor/run-dir.ts';

/**
 * `meterflow down`: SIGTERM to the `up` process, which stops its children in order; children left
 * by an `up` that was killed outright are stopped by their pid files; then the local Kafka and
 * Cassandra (never configured external clusters).
 */
export async function runDown(config: Config, log: Logger): Promise<void> {
  const runDir = runDirOf(config.stateDir);
  const p = readPipeline(runDir);
  const perComponent = config.pipeline.stopTimeoutMs;
  if (p.running && p.supervisor) {
    const result = await terminate(p.supervisor, perComponent * Math.max(1, p.components.length) + 5_000);
    process.stdout.write(`pipeline   ${result} (pid ${p.supervisor.pid})\n`);
  }
  await stopLeftovers(runDir, p.components, perComponent, log);
  if (!p.running && p.components.length === 0) process.stdout.write('pipeline   not running\n');
  for (const r of await new LocalInfra(config, log).down()) process.stdout.write(`${r.name.padEnd(10)} ${r.result}\n`);
}

/**
 * Stops components whose `up` is gone (killed outright, so it could not stop them), last started
 * first, by their pid files. `up` calls it too, so a new pipeline never runs beside an old one.
 */
export async function stopLeftovers(runDir: string, components: { name: string }[], timeoutMs: number, log: Logger): Promise<void> {
  for (const c of [...components].reverse()) {
    const record = readPidRecord(join(runDir, `${c.name}.pid`));
    if (!isAlive(record)) continue;
    const result = await terminate(record, timeoutMs);
    log.info({ component: c.name, pid: record.pid, result }, `${c.name} ${result}`);
    process.stdout.write(`${c.name.padEnd(10)} ${result} (pid ${record.pid}, left running by an \`up\` that was killed)\n`);
  }
}

/** SIGTERM, wait for the process to end, SIGKILL after the timeout. */
async function terminate(record: PidRecord, timeoutMs: number): Promise<'stopped' | 'killed'> {
  process.kill(record.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(record)) {
    if (Date.now() > deadline) {
      process.kill(record.pid, 'SIGKILL');
      while (isAlive(record)) await new Promise((r) => setTimeout(r, 100));
      return 'killed';
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return 'stopped';
}
