import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';

/**
 * A background JVM that meterflow started and may stop. The pid file is the record of what we
 * started; the marker (a -D system property carrying the service folder) lets us check that the
 * pid still belongs to that JVM, so a recycled pid is never signalled.
 */
export interface ProcessRecord {
  pid: number;
  marker: string;
  startedAt: string;
}

export function readRecord(pidFile: string): ProcessRecord | undefined {
  if (!existsSync(pidFile)) return undefined;
  try {
    const record = JSON.parse(readFileSync(pidFile, 'utf8')) as ProcessRecord;
    return Number.isInteger(record.pid) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and still the process we started (checked through /proc/PID/cmdline). */
export function isRunning(record: ProcessRecord | undefined): record is ProcessRecord {
  if (record === undefined) return false;
  try {
    process.kill(record.pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8');
    if (!cmdline.includes(record.marker)) return false;
    // A killed child that nobody reaped yet is a zombie: not running.
    const stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    // No /proc (not Linux): trust the signal check.
    return true;
  }
}

export async function startDetached(options: {
  command: string;
  args: string[];
  cwd: string;
  logFile: string;
  pidFile: string;
  marker: string;
  env?: NodeJS.ProcessEnv;
}): Promise<ProcessRecord> {
  const out = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', out, out],
      env: options.env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.command}`);
    child.unref();
    const record: ProcessRecord = { pid: child.pid, marker: options.marker, startedAt: new Date().toISOString() };
    await writeFile(options.pidFile, `${JSON.stringify(record)}\n`);
    return record;
  } finally {
    closeSync(out);
  }
}

/** SIGTERM, then wait for the process to end; SIGKILL only if it outlives the timeout. */
export async function stopProcess(
  record: ProcessRecord,
  pidFile: string,
  timeoutMs: number,
): Promise<'stopped' | 'killed' | 'not-running'> {
  if (!isRunning(record)) {
    await rm(pidFile, { force: true });
    return 'not-running';
  }
  process.kill(record.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(record)) {
      await rm(pidFile, { force: true });
      return 'stopped';
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  process.kill(record.pid, 'SIGKILL');
  while (isRunning(record)) await new Promise((r) => setTimeout(r, 100));
  await rm(pidFile, { force: true });
  return 'killed';
}
