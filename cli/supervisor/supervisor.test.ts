import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import { backoffDelay, CrashHistory, type RestartPolicy } from './backoff.ts';
import { isAlive, readPidRecord } from './process-record.ts';
import { type ComponentSpec, Supervisor } from './supervisor.ts';

const log = createLogger('supervisor-test', 'silent');
const policy: RestartPolicy = {
  minBackoffMs: 50,
  maxBackoffMs: 400,
  crashLoopRestarts: 3,
  crashLoopWindowMs: 10_000,
  stopTimeoutMs: 1_000,
};

/** A real child: `node -e SCRIPT`. */
const node = (name: string, script: string, restart: ComponentSpec['restart'] = 'always'): ComponentSpec => ({
  name,
  command: process.execPath,
  args: ['-e', script],
  restart,
});
const SERVICE = 'setInterval(() => {}, 1000); process.on("SIGTERM", () => setTimeout(() => process.exit(0), 100));';

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('restart policy', () => {
  it('backs off exponentially up to the cap', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy))).toEqual([50, 100, 200, 400, 400]);
  });

  it('calls more than crashLoopRestarts crashes within the window a crash loop; a long run resets the row', () => {
    const h = new CrashHistory({ crashLoopRestarts: 2, crashLoopWindowMs: 1_000 });
    expect(h.crashed(0, 10)).toEqual({ crashLoop: false, crashesInRow: 1 });
    expect(h.crashed(100, 10)).toEqual({ crashLoop: false, crashesInRow: 2 });
    expect(h.crashed(200, 10)).toEqual({ crashLoop: true, crashesInRow: 3 });
    // Well after the window, after a long healthy run: not a loop, and the backoff starts over.
    expect(h.crashed(5_000, 4_000)).toEqual({ crashLoop: false, crashesInRow: 1 });
  });
});

describe('Supervisor with real child processes', () => {
  let dir: string;
  let supervisor: Supervisor | undefined;
  const make = (p: Partial<RestartPolicy> = {}) => {
    dir = mkdtempSync(join(tmpdir(), 'meterflow-supervisor-'));
    supervisor = new Supervisor({ runDir: dir, policy: { ...policy, ...p }, log });
    return supervisor;
  };
  afterEach(async () => {
    await supervisor?.stop();
    supervisor = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts a killed child with a new pid, records its pid file and sends its output to its log file', async () => {
    const s = make();
    s.start(node('svc', `console.log("hello from " + process.pid); ${SERVICE}`));
    const first = s.status()[0]?.pid;
    expect(first).toBeGreaterThan(0);
    await until(() => readFileSync(join(dir, 'svc.log'), 'utf8').includes(`hello from ${first}`));
    expect(readPidRecord(join(dir, 'svc.pid'))?.pid).toBe(first);
    process.kill(first as number, 'SIGKILL');
    await until(() => (s.status()[0]?.restarts ?? 0) === 1 && s.status()[0]?.pid !== undefined);
    const second = s.status()[0];
    expect(second?.pid).not.toBe(first);
    expect(second?.lastExit?.signal).toBe('SIGKILL');
    expect(isAlive(readPidRecord(join(dir, 'svc.pid')))).toBe(true);
    await until(() => readFileSync(join(dir, 'svc.log'), 'utf8').includes(`hello from ${second?.pid}`));
  });

  it('gives a crash-looping child up after crashLoopRestarts restarts, with growing delays', async () => {
    const s = make();
    const started = Date.now();
    s.start(node('crasher', 'process.exit(3)'));
    expect(await s.waitFor('crasher')).toBe('failed');
    const status = s.status()[0];
    expect(status).toMatchObject({ state: 'failed', restarts: 3, lastExit: { code: 3, signal: null } });
    // Backoffs 50 + 100 + 200 ms at least passed between the four runs.
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('runs a task once when it succeeds and restarts it when it fails', async () => {
    const s = make();
    const marker = join(tmpdir(), `meterflow-supervisor-${process.pid}-${Date.now()}`);
    // Fails on its first run (no marker file yet), succeeds on the second.
    s.start(
      node(
        'task',
        `const fs = require("fs"); if (!fs.existsSync(${JSON.stringify(marker)})) { fs.writeFileSync(${JSON.stringify(marker)}, ""); process.exit(1); }`,
        'on-failure',
      ),
    );
    expect(await s.waitFor('task')).toBe('done');
    expect(s.status()[0]).toMatchObject({ state: 'done', restarts: 1, lastExit: { code: 0 } });
    rmSync(marker, { force: true });
  });

  it('stops in reverse start order, and SIGKILLs a child that ignores SIGTERM after stopTimeoutMs', async () => {
    const s = make({ stopTimeoutMs: 500 });
    const order = join(dir, 'order');
    for (const name of ['first', 'second']) {
      s.start(
        node(
          name,
          `setInterval(() => {}, 1000); process.on("SIGTERM", () => { require("fs").appendFileSync(${JSON.stringify(order)}, "${name}\\n"); process.exit(0); }); console.log("ready");`,
        ),
      );
    }
    s.start(node('stubborn', 'setInterval(() => {}, 1000); process.on("SIGTERM", () => {}); console.log("ready");'));
    // A SIGTERM before a child installed its handler would end it at once: wait for each to say so.
    await until(() => s.status().every((c) => readFileSync(c.logFile, 'utf8').includes('ready')));
    const pids = s.status().map((c) => c.pid as number);
    const t = Date.now();
    await s.stop();
    expect(Date.now() - t).toBeGreaterThanOrEqual(500);
    expect(readFileSync(order, 'utf8')).toBe('second\nfirst\n');
    expect(s.status().map((c) => [c.name, c.state, c.lastExit?.signal ?? null])).toEqual([
      ['first', 'stopped', null],
      ['second', 'stopped', null],
      ['stubborn', 'stopped', 'SIGKILL'],
    ]);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
