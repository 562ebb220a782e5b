import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAlive, type PidRecord, readPidRecord, recordFor } from '../supervisor/process-record.ts';
import { supervisorPidFile } from '../supervisor/run-dir.ts';

/**
 * Claims `<runDir>/supervisor.pid` for this process: one `up` per state folder. Returns the record
 * of the `up` that already runs instead, if there is one. A file left by a killed `up` is replaced.
 */
export function claimSupervisor(runDir: string): { claimed: true } | { claimed: false; holder: PidRecord } {
  const file = supervisorPidFile(runDir);
  for (;;) {
    try {
      writeFileSync(file, `${JSON.stringify(recordFor(process.pid))}\n`, { flag: 'wx' });
      return { claimed: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readPidRecord(file);
      if (isAlive(holder) && holder.pid !== process.pid) return { claimed: false, holder };
      rmSync(file, { force: true });
    }
  }
}

export function releaseSupervisor(runDir: string): void {
  const file = supervisorPidFile(runDir);
  try {
    if (readPidRecord(file)?.pid === process.pid) rmSync(file, { force: true });
  } catch {
    // already gone
  }
}

export function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
