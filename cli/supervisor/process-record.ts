import { existsSync, readFileSync } from 'node:fs';

/**
 * A pid file's content. The pid alone is not enough to signal a process found through a file: after
 * a reboot or a long time the pid may belong to someone else. The kernel's start time of the process
 * (/proc/PID/stat field 22) is recorded too, and a pid is only ours while both match.
 */
export interface PidRecord {
  pid: number;
  /** Clock ticks after boot at which the process started; undefined where there is no /proc. */
  procStart?: number;
  startedAt: string;
}

export function procStartOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined; // a zombie has ended
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export function recordFor(pid: number): PidRecord {
  const procStart = procStartOf(pid);
  return { pid, ...(procStart === undefined ? {} : { procStart }), startedAt: new Date().toISOString() };
}

export function readPidRecord(file: string): PidRecord | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
    return Number.isInteger(r.pid) && r.pid > 0 ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Alive, and still the process the record was written for. */
export function isAlive(record: PidRecord | undefined): record is PidRecord {
  if (record === undefined) return false;
  try {
    process.kill(record.pid, 0);
  } catch {
    return false;
  }
  if (record.procStart === undefined) return true;
  return procStartOf(record.pid) === record.procStart;
}
