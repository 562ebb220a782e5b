import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../core/logger.ts';
import { backoffDelay, CrashHistory, type RestartPolicy } from './backoff.ts';
import { recordFor } from './process-record.ts';

export interface ComponentSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** always: a service, restarted whenever it exits; on-failure: a task, done once it exits with status 0. */
  restart: 'always' | 'on-failure';
}

export type ComponentState = 'running' | 'backoff' | 'done' | 'failed' | 'stopping' | 'stopped';

export interface ComponentStatus {
  name: string;
  state: ComponentState;
  pid?: number;
  restarts: number;
  logFile: string;
  lastExit?: { code: number | null; signal: string | null; at: string };
}

/** A component that reached an end: done (task finished), failed (crash loop) or stopped. */
export type Outcome = 'done' | 'failed' | 'stopped';

interface Component {
  spec: ComponentSpec;
  status: ComponentStatus;
  child?: ChildProcess;
  startedAt: number;
  history: CrashHistory;
  timer?: NodeJS.Timeout;
  exited?: Promise<void>;
  waiters: ((o: Outcome) => void)[];
}

const TERMINAL: ReadonlySet<ComponentState> = new Set(['done', 'failed', 'stopped']);

/**
 * Runs components as child processes and keeps them running: a crashed one is restarted after an
 * exponential backoff, and given up (state `failed`, logged as MF_PIPELINE_CRASH_LOOP) when it
 * crashes more than the policy allows within its window. Each child's stdout and stderr go to
 * `<runDir>/<name>.log` (a file, never a pipe nobody reads: a full pipe blocks the child) and its
 * pid to `<runDir>/<name>.pid`, so another process (`meterflow status`, `meterflow down`) finds it.
 * Children get their own process group, so a Ctrl-C at the terminal reaches the supervisor only,
 * which then stops them in reverse start order.
 */
export class Supervisor {
  private readonly components = new Map<string, Component>();
  private stopping = false;

  constructor(private readonly o: { runDir: string; policy: RestartPolicy; log: Logger; onChange?: (s: ComponentStatus[]) => void }) {
    mkdirSync(o.runDir, { recursive: true });
  }

  start(spec: ComponentSpec): void {
    if (this.stopping) return;
    if (this.components.has(spec.name)) throw new Error(`component ${spec.name} is already supervised`);
    const c: Component = {
      spec,
      status: { name: spec.name, state: 'running', restarts: 0, logFile: join(this.o.runDir, `${spec.name}.log`) },
      startedAt: 0,
      history: new CrashHistory(this.o.policy),
      waiters: [],
    };
    this.components.set(spec.name, c);
    this.spawn(c);
  }

  /** Resolves when the component is done, failed or stopped. */
  waitFor(name: string): Promise<Outcome> {
    const c = this.components.get(name);
    if (c === undefined) return Promise.resolve('stopped');
    if (TERMINAL.has(c.status.state)) return Promise.resolve(c.status.state as Outcome);
    return new Promise((resolve) => c.waiters.push(resolve));
  }

  status(): ComponentStatus[] {
    return [...this.components.values()].map((c) => ({ ...c.status }));
  }

  /** Stops every component, last started first: SIGTERM, then SIGKILL after the policy's stopTimeoutMs. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const c of [...this.components.values()].reverse()) {
      clearTimeout(c.timer);
      if (c.child !== undefined && c.exited !== undefined) {
        this.set(c, { state: 'stopping' });
        const child = c.child;
        const exited = c.exited;
        child.kill('SIGTERM');
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((r) => setTimeout(() => r(true), this.o.policy.stopTimeoutMs).unref()),
        ]);
        if (timedOut) {
          this.o.log.warn(
            { component: c.spec.name, pid: child.pid, timeoutMs: this.o.policy.stopTimeoutMs },
            `${c.spec.name} did not stop within ${this.o.policy.stopTimeoutMs} ms of SIGTERM (pipeline.stopTimeoutMs): SIGKILL`,
          );
          child.kill('SIGKILL');
          await exited;
        }
      }
      if (!TERMINAL.has(c.status.state)) this.finish(c, 'stopped');
    }
  }

  private spawn(c: Component): void {
    const out = openSync(c.status.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(c.spec.command, c.spec.args, {
        cwd: c.spec.cwd,
        env: c.spec.env ?? process.env,
        stdio: ['ignore', out, out],
        detached: true,
      });
    } finally {
      closeSync(out);
    }
    c.child = child;
    c.startedAt = Date.now();
    const pidFile = join(this.o.runDir, `${c.spec.name}.pid`);
    c.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        // spawn failed (no such command): no 'exit' follows.
        if (child.pid === undefined) this.exited(c, null, null, pidFile, err).finally(resolve);
      });
      child.once('exit', (code, signal) => {
        this.exited(c, code, signal, pidFile).finally(resolve);
      });
    });
    if (child.pid !== undefined) {
      writeFileSync(pidFile, `${JSON.stringify(recordFor(child.pid))}\n`);
      this.o.log.info(
        { component: c.spec.name, pid: child.pid, restarts: c.status.restarts, logFile: c.status.logFile },
        `started ${c.spec.name}`,
      );
    }
    this.set(c, { state: 'running', ...(child.pid === undefined ? {} : { pid: child.pid }) });
  }

  private async exited(c: Component, code: number | null, signal: string | null, pidFile: string, err?: Error): Promise<void> {
    await rm(pidFile, { force: true });
    c.child = undefined;
    const lastExit = { code, signal, at: new Date().toISOString() };
    const { pid: _gone, ...rest } = c.status;
    c.status = { ...rest, lastExit };
    const fields = { component: c.spec.name, code, signal, ...(err ? { err } : {}) };
    if (this.stopping) {
      this.o.log.info(fields, `${c.spec.name} stopped`);
      this.finish(c, 'stopped');
      return;
    }
    if (code === 0 && c.spec.restart === 'on-failure') {
      this.o.log.info(fields, `${c.spec.name} finished`);
      this.finish(c, 'done');
      return;
    }
    const { crashLoop, crashesInRow } = c.history.crashed(Date.now(), Date.now() - c.startedAt);
    if (crashLoop) {
      this.o.log.error(
        { ...fields, code: 'MF_PIPELINE_CRASH_LOOP', exitCode: code, restarts: c.status.restarts, logFile: c.status.logFile },
        `${c.spec.name} crashed more than ${this.o.policy.crashLoopRestarts} times within ${this.o.policy.crashLoopWindowMs} ms (pipeline.crashLoopRestarts): given up; see ${c.status.logFile}`,
      );
      this.finish(c, 'failed');
      return;
    }
    const delayMs = backoffDelay(crashesInRow, this.o.policy);
    this.o.log.warn(
      { ...fields, delayMs, restarts: c.status.restarts, logFile: c.status.logFile },
      `${c.spec.name} exited: restarting in ${delayMs} ms`,
    );
    this.set(c, { state: 'backoff' });
    c.timer = setTimeout(() => {
      if (this.stopping) return;
      c.status.restarts++;
      this.spawn(c);
    }, delayMs);
  }

  private finish(c: Component, outcome: Outcome): void {
    this.set(c, { state: outcome });
    for (const w of c.waiters.splice(0)) w(outcome);
  }

  private set(c: Component, change: Partial<ComponentStatus>): void {
    c.status = { ...c.status, ...change };
    this.o.onChange?.(this.status());
  }
}
