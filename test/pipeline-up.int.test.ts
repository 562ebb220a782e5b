import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, readPidRecord } from '../cli/supervisor/process-record.ts';
import type { ComponentStatus } from '../cli/supervisor/supervisor.ts';
import type { Config } from '../core/config.ts';
import { countLines } from '../ingest/replay/replay-files.ts';
import { BIN, cliEnv, ROOT, runCli } from './support/cli.ts';
import { DATA_DIR } from './support/data-dir.ts';
import { duckdbDaily, eventually, expectSameDays, type SeriesBody } from './support/expected-series.ts';
import { withFreshTopics } from './support/kafka-helpers.ts';
import { withFreshKeyspace } from './support/speed-helpers.ts';
import { testConfig } from './support/test-config.ts';

// `meterflow up` as a user runs it, against the test Kafka and Cassandra (as configured external
// clusters, so it re-uses them): a small replay of real LCL households, the API answering with what
// was replayed, a supervised child killed -9 and restarted, everything gone after SIGTERM.
const HOUSEHOLDS = ['MAC000002', 'MAC000003'];
const YEAR = 'from=2013-01-01&to=2014-01-01&grain=day&measures=importKwh';
const COMPONENTS = ['speed', 'archive', 'jobs', 'api'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('meterflow up: the whole pipeline as supervised processes', () => {
  let config: Config;
  let work: string;
  let runDir: string;
  let env: NodeJS.ProcessEnv;
  let up: ChildProcess;
  let stdout = '';
  let url: string;
  let apiKey: string;
  const seenPids = new Set<number>();

  const status = (): ComponentStatus[] => JSON.parse(readFileSync(join(runDir, 'status.json'), 'utf8')) as ComponentStatus[];
  const component = (name: string) => status().find((c) => c.name === name);
  const pidOf = (name: string) => readPidRecord(join(runDir, `${name}.pid`));
  async function until(what: string, check: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what} not within ${ms} ms; up printed:\n${stdout}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${apiKey}` } });

  beforeAll(async () => {
    const id = randomUUID().slice(0, 8);
    const base = testConfig({ speed: { groupId: `test-up-speed-${id}` } });
    config = await withFreshKeyspace(await withFreshTopics(base, 3), `test_up_${id}`);
    work = mkdtempSync(join(tmpdir(), 'meterflow-up-int-'));
    runDir = join(work, 'state', 'pipeline');
    const data = join(work, 'data');
    mkdirSync(join(data, 'lcl-2013'), { recursive: true });
    symlinkSync(join(DATA_DIR, 'lcl-2013-households.csv'), join(data, 'lcl-2013-households.csv'));
    for (const h of HOUSEHOLDS) symlinkSync(join(DATA_DIR, 'lcl-2013', `${h}.csv`), join(data, 'lcl-2013', `${h}.csv`));
    env = {
      ...cliEnv(config),
      // The test services as configured clusters: `up` re-uses them and starts no Kafka or Cassandra.
      KAFKA_BROKERS: config.kafka.brokers?.join(',') ?? `127.0.0.1:${config.infra.kafka.port}`,
      CASSANDRA_CONTACT_POINTS: config.cassandra.contactPoints?.join(',') ?? `127.0.0.1:${config.infra.cassandra.nativePort}`,
      METERFLOW_STATE_DIR: join(work, 'state'),
      METERFLOW_LOG__LEVEL: 'info',
      METERFLOW_SERVING__PORT: String(await freePort()),
      METERFLOW_PIPELINE__DATA_DIR: data,
      METERFLOW_PIPELINE__SIMULATE_METERS: '2',
      // 2013 in about 3 s: the paced, time-ordered replay path, short enough for the test budget.
      METERFLOW_PIPELINE__REPLAY_SPEEDUP: '10000000x',
      METERFLOW_PIPELINE__MIN_BACKOFF_MS: '200',
      METERFLOW_SPEED__FLUSH_INTERVAL_MS: '200',
    };
    const logs = openSync(join(work, 'up.stderr.log'), 'a');
    // stdout is read (below) as it comes; stderr (pino logs) goes to a file, never an unread pipe.
    up = spawn(process.execPath, [BIN, 'up'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', logs] });
    closeSync(logs);
    up.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    await until('the dashboard URL', () => /^dashboard +(http:\/\/\S+)\/$/m.test(stdout), 90_000);
    url = /^dashboard +(http:\/\/\S+)\/$/m.exec(stdout)?.[1] as string;
    apiKey = /^API key +(mf_\S+)$/m.exec(stdout)?.[1] as string;
  });

  afterAll(async () => {
    // Only if a test failed before SIGTERM: nothing may outlive the test.
    if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
    for (const pid of seenPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('prints the API URL and a working key; /ready answers; the series equals what was replayed', async () => {
    expect(stdout).toMatch(new RegExp(`^API docs +${url}/docs$`, 'm'));
    expect(apiKey).toMatch(/^mf_[0-9a-f]{12}_/);
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    expect((await fetch(`${url}/v1/views/meter_15m/series?key=${encodeURIComponent('meter=lcl:MAC000002')}&${YEAR}`)).status).toBe(401);
    for (const c of COMPONENTS) expect(isAlive(pidOf(c)), c).toBe(true);

    await until('the replay to finish', () => component('replay')?.state === 'done', 60_000);
    await until('the simulator to start', () => component('simulate')?.state === 'running', 10_000);
    const files = HOUSEHOLDS.map((h) => join(DATA_DIR, 'lcl-2013', `${h}.csv`));
    expect(stdout).toMatch(
      new RegExp(`^feed +replaying ${(await countLines(files)) - files.length} readings from 2 files .*\\(pace 10000000x\\)`, 'm'),
    );
    // Paced: a year of readings took at least a year / 10,000,000 (3.1 s).
    const summary = /(\d+) items in ([\d.]+) s/.exec(readFileSync(join(runDir, 'replay.log'), 'utf8'));
    expect(Number(summary?.[1])).toBe((await countLines(files)) - files.length);
    expect(Number(summary?.[2])).toBeGreaterThanOrEqual(3);

    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    try {
      let total = 0;
      for (const h of HOUSEHOLDS) {
        const expected = await duckdbDaily(con, [join(DATA_DIR, 'lcl-2013', `${h}.csv`)]);
        total += [...expected.values()].reduce((a, b) => a + b, 0);
        await eventually(async () => {
          const res = await get(`/v1/views/meter_15m/series?key=${encodeURIComponent(`meter=lcl:${h}`)}&${YEAR}`);
          expect(res.status).toBe(200);
          expectSameDays((await res.json()) as SeriesBody, expected);
        });
      }
      expect(total).toBeGreaterThan(1_000);
    } finally {
      con.closeSync();
      db.closeSync();
    }
  });

  it('restarts a supervised child killed with -9, reports it, and a second `up` is a no-op that prints the status', async () => {
    const before = pidOf('speed');
    expect(isAlive(before)).toBe(true);
    process.kill(before?.pid as number, 'SIGKILL');
    await until('speed to be restarted', () => component('speed')?.restarts === 1 && isAlive(pidOf('speed')), 30_000);
    expect(pidOf('speed')?.pid).not.toBe(before?.pid);
    expect(component('speed')?.lastExit?.signal).toBe('SIGKILL');

    const prom = await runCli(['status', '--format', 'prometheus'], { env });
    expect(prom.code, prom.stderr).toBe(0);
    expect(prom.stdout).toContain('meterflow_pipeline_up 1');
    expect(prom.stdout).toContain('meterflow_component_restarts_total{component="speed"} 1');
    expect(prom.stdout).toContain('meterflow_component_state{component="replay",state="done"} 1');

    // The API itself killed: restarted, and the page and its data answer again as before.
    const api = pidOf('api');
    const series = `/v1/views/meter_15m/series?key=${encodeURIComponent('meter=lcl:MAC000002')}&${YEAR}`;
    const before9 = (await (await get(series)).json()) as SeriesBody;
    process.kill(api?.pid as number, 'SIGKILL');
    await until('api to be restarted', () => component('api')?.restarts === 1 && isAlive(pidOf('api')), 30_000);
    await eventually(async () => expect((await fetch(`${url}/ready`)).status).toBe(200));
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>meterflow dashboard</title>');
    const after9 = (await (await get(series)).json()) as SeriesBody;
    expect(after9.buckets).toEqual(before9.buckets);

    const again = await runCli(['up'], { env, timeoutMs: 60_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`meterflow is already up (pid ${up.pid})`);
    expect(again.stdout).toMatch(/^speed +running +pid \d+ +restarts 1 /m);
  });

  it('`meterflow down` stops every child and `up` itself, and leaves no pid file behind', async () => {
    const pids = [...COMPONENTS, 'simulate'].map((c) => pidOf(c)?.pid as number);
    for (const pid of pids) {
      expect(pid).toBeGreaterThan(0);
      seenPids.add(pid);
    }
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    // `down` sends `up` the SIGTERM that Ctrl-C's SIGINT also ends in (run-up.ts handles both alike).
    const down = await runCli(['down'], { env, timeoutMs: 120_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(new RegExp(`^pipeline +stopped \\(pid ${up.pid}\\)$`, 'm'));
    expect(await exited).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow();
    for (const c of [...COMPONENTS, 'simulate', 'supervisor']) expect(existsSync(join(runDir, `${c}.pid`)), c).toBe(false);
    expect(stdout).toContain('pipeline stopped');
    const after = await runCli(['status'], { env });
    expect(after.code).toBe(1);
    expect(after.stdout).toContain('pipeline   not running');
  });
  it('`meterflow down` also stops the children of an `up` that was killed -9', async () => {
    const logs = openSync(join(work, 'up2.stderr.log'), 'a');
    const second = spawn(process.execPath, [BIN, 'up'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', logs] });
    closeSync(logs);
    let out = '';
    second.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const deadline = Date.now() + 90_000;
    while (!/^dashboard +http/m.test(out)) {
      if (Date.now() > deadline) throw new Error(`the second up printed no URL:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const pids = COMPONENTS.map((c) => pidOf(c)?.pid as number);
    for (const pid of pids) seenPids.add(pid);
    const killed = new Promise((resolve) => second.once('exit', resolve));
    second.kill('SIGKILL');
    await killed;
    // Its children outlive it (each in its own process group), still running the pipeline.
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).not.toThrow();

    const down = await runCli(['down'], { env, timeoutMs: 120_000 });
    expect(down.code, down.stderr).toBe(0);
    for (const c of COMPONENTS)
      expect(down.stdout).toMatch(new RegExp(`^${c} +(stopped|killed) \\(pid \\d+, left running by an \`up\` that was killed\\)$`, 'm'));
    // Their parent gone, they are init's children now: one that has exited may stay a zombie until
    // init reaps it, and a zombie no longer runs.
    for (const pid of pids) expect(running(pid), `pid ${pid}`).toBe(false);
  });
});

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
