import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, type PidRecord, readPidRecord } from './process-record.ts';
import type { ComponentStatus } from './supervisor.ts';

/**
 * The files through which `meterflow up` tells other commands about the pipeline it runs, all in
 * `<stateDir>/pipeline/`: `supervisor.pid` (the `up` process), `<component>.pid` and `.log`
 * (written by the Supervisor), `status.json` (the latest status), `api-url` and `api-key`.
 */
export function runDirOf(stateDir: string): string {
  return join(stateDir, 'pipeline');
}

export const supervisorPidFile = (runDir: string) => join(runDir, 'supervisor.pid');

export function writeStatusFile(runDir: string, status: ComponentStatus[]): void {
  // Written whole and renamed: a reader never sees half a file.
  const file = join(runDir, 'status.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(status, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export interface PipelineRecord {
  supervisor: PidRecord | undefined;
  running: boolean;
  components: ComponentStatus[];
  url?: string;
}

/** What another process can tell about the pipeline: the supervisor, each component (pids re-checked). */
export function readPipeline(runDir: string): PipelineRecord {
  const supervisor = readPidRecord(supervisorPidFile(runDir));
  const running = isAlive(supervisor);
  const statusFile = join(runDir, 'status.json');
  const saved: ComponentStatus[] = existsSync(statusFile) ? (JSON.parse(readFileSync(statusFile, 'utf8')) as ComponentStatus[]) : [];
  const components = saved.map((c) => {
    const alive = isAlive(readPidRecord(join(runDir, `${c.name}.pid`)));
    if (alive) return c;
    const { pid: _gone, ...rest } = c;
    // A status.json left by an `up` that was killed still says "running": the pid files are the truth.
    return running ? rest : { ...rest, state: endedState(c.state) };
  });
  const urlFile = join(runDir, 'api-url');
  return { supervisor, running, components, ...(existsSync(urlFile) ? { url: readFileSync(urlFile, 'utf8').trim() } : {}) };
}

function endedState(state: ComponentStatus['state']): ComponentStatus['state'] {
  return state === 'done' || state === 'failed' ? state : 'stopped';
}
