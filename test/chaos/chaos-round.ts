import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, listValue } from '@duckdb/node-api';
import { readMasterManifest } from '../../batch-layer/archive/master-manifest.ts';
import { layoutFor } from '../../batch-layer/layout.ts';
import { createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { GenerationStore } from '../../core/generation-store.ts';
import { createKafka } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { MeterRegistryStore } from '../../core/meter-registry.ts';
import { LocalInfra } from '../../infra/local/local-infra.ts';
import { lclMeters } from '../../ingest/sources/index.ts';
import { BIN, cliEnv, ROOT, runCli } from '../support/cli.ts';
import { DATA_DIR } from '../support/data-dir.ts';
import { withFreshTopics } from '../support/kafka-helpers.ts';
import { seededRng } from '../support/seeded-rng.ts';
import { waitForSpeedCaughtUp, withFreshKeyspace } from '../support/speed-helpers.ts';

// One round of the failure matrix: real processes, real kill -9, real broker / node restarts,
// during a paced replay of real LCL households; then the served answers against DuckDB over the CSVs.

export const FAULT_KINDS = ['replay', 'speed', 'archive', 'batch', 'api', 'kafka', 'cassandra'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface RoundOptions {
  /** The services' config (ports, state dir); each round gets fresh topics, keyspace and data dir. */
  base: Config;
  seed: number;
  households: string[];
  /** Process kills per kind in this round; kafka / cassandra: one stop + start each when present. */
  faults: FaultKind[];
  log: Logger;
  /** A year of readings replayed in about this many seconds (the window in which faults land). */
  ingestSeconds?: number;
  /** The whole round's time limit: waits give up in time to stop every process it started. */
  budgetMs?: number;
}

export interface RoundResult {
  seed: number;
  seconds: number;
  faults: Record<FaultKind, number>;
  expectedReadings: number;
  servedReadings: number;
  lost: number;
  doubleCounted: number;
  /** (meter, day) buckets whose kWh differs from the oracle by more than 1e-6. */
  kwhMismatches: string[];
  masterMissingOffsets: number;
  masterDuplicateOffsets: number;
  log: string[];
}

/** Every child a round started and that may still run: killed if this process exits first (a test timeout). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/**
 * A `meterflow` child kept running: restarted (after a short pause) whenever it exits without
 * being asked to stop, as a supervisor would. `kill9` is the fault; `stop` ends it for good.
 */
class Kept {
  private child: ChildProcess | undefined;
  private stopped = false;
  restarts = 0;
  constructor(
    private readonly name: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
  ) {}

  start(): void {
    const out = openSync(this.logFile, 'a');
    const child = track(spawn(process.execPath, [BIN, ...this.args], { cwd: ROOT, env: this.env, stdio: ['ignore', out, out] }));
    closeSync(out);
    this.child = child;
    child.once('exit', () => {
      if (this.stopped || this.child !== child) return;
      this.restarts++;
      setTimeout(() => {
        if (!this.stopped && this.child === child) this.start();
      }, 500);
    });
  }

  /** kill -9, then (like the supervisor) start it again. */
  kill9(): void {
    const child = this.child;
    if (child?.pid === undefined) return;
    this.child = undefined;
    child.kill('SIGKILL');
    this.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }

  describe(): string {
    return `${this.name} (${this.restarts} unasked restarts)`;
  }
}

/** Per meter and UTC day, kWh and reading count, straight from the CSVs (a re-sent row counts once). */
export async function oracleDaily(con: DuckDBConnection, files: string[]): Promise<Map<string, { kwh: number; n: number }>> {
  const reader = await con.runAndReadAll(
    `WITH raw AS (
      SELECT trim(LCLid) AS id, CAST(tstp AS TIMESTAMP) AS ts, TRY_CAST(trim("energy(kWh/hh)") AS DOUBLE) AS kwh
      FROM read_csv($files, header = true, all_varchar = true)
    ), dedup AS (SELECT DISTINCT id, ts, kwh FROM raw WHERE kwh IS NOT NULL AND isfinite(kwh) AND kwh >= 0)
    SELECT id, strftime(date_trunc('day', ts), '%Y-%m-%d') AS day, sum(kwh) AS kwh, count(*) AS n FROM dedup GROUP BY ALL`,
    { files: listValue(files) },
  );
  return new Map(reader.getRowObjects().map((r) => [`lcl:${r.id}|${r.day}`, { kwh: Number(r.kwh), n: Number(r.n) }]));
}

interface Served {
  byDay: Map<string, { kwh: number; n: number }>;
  stale: boolean;
  batchVersion: number;
}

async function served(url: string, meters: string[]): Promise<Served> {
  const byDay = new Map<string, { kwh: number; n: number }>();
  let stale = false;
  let batchVersion = Number.POSITIVE_INFINITY;
  for (const m of meters) {
    const q = `key=${encodeURIComponent(`meter=${m}`)}&from=2012-12-01&to=2014-02-01&grain=day&measures=importKwh,readingCount`;
    const res = await fetch(`${url}/v1/views/meter_15m/series?${q}`, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) throw new Error(`series ${m}: HTTP ${res.status} ${await res.text()}`);
    const body = (await res.json()) as {
      buckets: { bucket: string; values: { importKwh: number | null; readingCount: number | null } }[];
      provenance: { stale: boolean; batchVersion: number };
    };
    stale ||= body.provenance.stale;
    batchVersion = Math.min(batchVersion, body.provenance.batchVersion);
    for (const b of body.buckets) {
      const n = b.values.readingCount ?? 0;
      if (n > 0) byDay.set(`${m}|${b.bucket.slice(0, 10)}`, { kwh: b.values.importKwh ?? 0, n });
    }
  }
  return { byDay, stale, batchVersion };
}

function compare(expected: Map<string, { kwh: number; n: number }>, got: Map<string, { kwh: number; n: number }>) {
  let lost = 0;
  let doubleCounted = 0;
  let servedReadings = 0;
  const kwhMismatches: string[] = [];
  for (const k of new Set([...expected.keys(), ...got.keys()])) {
    const e = expected.get(k) ?? { kwh: 0, n: 0 };
    const g = got.get(k) ?? { kwh: 0, n: 0 };
    servedReadings += g.n;
    if (g.n < e.n) lost += e.n - g.n;
    if (g.n > e.n) doubleCounted += g.n - e.n;
    if (Math.abs(g.kwh - e.kwh) > 1e-6) kwhMismatches.push(`${k}: expected ${e.kwh} kWh, got ${g.kwh}`);
  }
  return { lost, doubleCounted, servedReadings, kwhMismatches };
}

/** Every offset of every readings partition in the master dataset exactly once? */
async function checkMaster(con: DuckDBConnection, config: Config, log: Logger): Promise<{ missing: number; duplicates: number }> {
  const layout = layoutFor(config);
  const manifest = await readMasterManifest(layout.masterManifest);
  const admin = createKafka(config, log).admin();
  await admin.connect();
  const highs = await admin.fetchTopicOffsets(config.kafka.topics.readings.name).finally(() => admin.disconnect());
  const files = (manifest?.files ?? []).map((f) => join(layout.masterDir, f.path));
  const counts = new Map<number, { rows: number; distinct: number }>();
  if (files.length > 0) {
    const r = await con.runAndReadAll(
      'SELECT kafka_partition AS p, count(*) AS rows, count(DISTINCT kafka_offset) AS d FROM read_parquet($files) GROUP BY ALL',
      { files: listValue(files) },
    );
    for (const row of r.getRowObjects()) counts.set(Number(row.p), { rows: Number(row.rows), distinct: Number(row.d) });
  }
  const skipped = new Map<number, number>();
  for (const f of manifest?.files ?? []) skipped.set(f.partition, (skipped.get(f.partition) ?? 0) + f.skipped);
  let missing = 0;
  let duplicates = 0;
  for (const h of highs) {
    const c = counts.get(h.partition) ?? { rows: 0, distinct: 0 };
    missing += Number(h.high) - (skipped.get(h.partition) ?? 0) - c.distinct;
    duplicates += c.rows - c.distinct;
  }
  return { missing, duplicates };
}

export async function runChaosRound(opts: RoundOptions): Promise<RoundResult> {
  const started = Date.now();
  const budgetEnd = started + (opts.budgetMs ?? 600_000);
  const rng = seededRng(opts.seed);
  const events: string[] = [];
  const note = (what: string) => {
    const line = `${((Date.now() - started) / 1000).toFixed(1)}s ${what}`;
    events.push(line);
    opts.log.warn({ seed: opts.seed }, `chaos: ${line}`);
  };
  const id = randomUUID().slice(0, 8);
  const work = mkdtempSync(join(tmpdir(), 'meterflow-chaos-'));
  note(`work folder ${work}`);
  const dataDir = join(work, 'batch');
  const feed = join(work, 'feed');
  mkdirSync(feed);
  const files = opts.households.map((h) => join(DATA_DIR, 'lcl-2013', `${h}.csv`));
  for (const f of files) symlinkSync(f, join(feed, f.slice(f.lastIndexOf('/') + 1)));

  const withRound = {
    ...opts.base,
    ingest: { ...opts.base.ingest, retentionDays: 36_500 },
    speed: { ...opts.base.speed, groupId: `chaos-speed-${id}`, flushIntervalMs: 200, sessionTimeoutMs: 10_000 },
  } as Config;
  const config = await withFreshKeyspace(await withFreshTopics(withRound, 3), `chaos_${id}`);
  const roundConfig: Config = { ...config, batch: { ...config.batch, dataDir } };
  const meters = await lclMeters(join(DATA_DIR, 'lcl-2013-households.csv'));
  const client = createCassandra(config);
  await new MeterRegistryStore(client).upsert(meters);
  await client.shutdown();

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...cliEnv(config),
    METERFLOW_BATCH__DATA_DIR: dataDir,
    METERFLOW_BATCH__ARCHIVE__GROUP_ID: `chaos-archiver-${id}`,
    METERFLOW_BATCH__ARCHIVE__FLUSH_INTERVAL_MS: '1000',
    // A killed archiver or batch run leaves its job lease behind: short, so restarts get it back soon.
    METERFLOW_BATCH__JOBS__LEASE_TTL_SECONDS: '10',
    METERFLOW_SERVING__AUTH__REQUIRED: 'false',
    METERFLOW_LOG__LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
    METERFLOW_SERVING__RATE_LIMIT__MAX: '1000000',
  };
  const logFile = (name: string) => join(work, `${name}.log`);
  const speed = new Kept('speed', ['speed'], env, logFile('speed'));
  const archive = new Kept('archive', ['archive'], env, logFile('archive'));
  const api = new Kept('api', ['serve', '--port', String(port), '--host', '127.0.0.1'], env, logFile('api'));
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const infra = new LocalInfra(opts.base, opts.log);
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    speed.start();
    archive.start();
    api.start();

    // The producer: a paced replay, every file at once in reading-time order, re-run until it ends
    // cleanly; each re-run re-sends everything before the point it was killed at.
    const ingestSeconds = opts.ingestSeconds ?? 10;
    const pace = `${Math.round((365 * 86_400) / ingestSeconds)}x`;
    let replay: ChildProcess | undefined;
    let replayRuns = 0;
    const replayDone = (async () => {
      for (;;) {
        replayRuns++;
        const out = openSync(logFile('replay'), 'a');
        replay = track(
          spawn(process.execPath, [BIN, 'ingest', 'replay', feed, '--format', 'lcl', '--pace', pace], {
            cwd: ROOT,
            env,
            stdio: ['ignore', out, out],
          }),
        );
        closeSync(out);
        const child = replay;
        const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
        if (code === 0) return;
        note(`replay run ${replayRuns} ended with ${code ?? 'a signal'}; re-running it`);
        if (replayRuns > 20) throw new Error('the replay did not complete in 20 runs');
        await sleep(500);
      }
    })();

    // Each process fault at a random moment of the ingest window; service restarts after them.
    const window = ingestSeconds * 1000;
    const ingestStart = Date.now();
    const schedule = opts.faults
      .filter((k) => k !== 'kafka' && k !== 'cassandra')
      .map((kind) => ({ kind, at: 500 + Math.floor(rng() * (window - 500)) }))
      .sort((a, b) => a.at - b.at);
    const batchRuns: Promise<unknown>[] = [];
    for (const f of schedule) {
      await sleep(Math.max(0, f.at - (Date.now() - ingestStart)));
      faults[f.kind]++;
      note(`kill -9 ${f.kind}`);
      if (f.kind === 'replay') replay?.kill('SIGKILL');
      else if (f.kind === 'speed') speed.kill9();
      else if (f.kind === 'archive') archive.kill9();
      else if (f.kind === 'api') api.kill9();
      else {
        // A batch run killed at a random moment of its life, then run again to the end.
        const out = openSync(logFile('batch'), 'a');
        const run = track(spawn(process.execPath, [BIN, 'batch', 'run'], { cwd: ROOT, env, stdio: ['ignore', out, out] }));
        closeSync(out);
        const life = 200 + Math.floor(rng() * 3_000);
        batchRuns.push(
          (async () => {
            await sleep(life);
            run.kill('SIGKILL');
            await new Promise((r) => (run.exitCode !== null || run.signalCode !== null ? r(null) : run.once('exit', r)));
            note(`batch run killed after ${life} ms; running it again`);
            const again = await runCli(['batch', 'run', '--json'], { env, timeoutMs: 120_000 });
            if (again.code !== 0 && !again.stderr.includes('MF_BATCH_NO_DATA')) note(`re-run batch failed: ${again.stderr.slice(-400)}`);
          })(),
        );
      }
    }
    for (const service of ['kafka', 'cassandra'] as const) {
      if (!opts.faults.includes(service)) continue;
      faults[service]++;
      note(`stopping ${service}`);
      await infra.down([service]);
      await sleep(1_000 + Math.floor(rng() * 2_000));
      await infra.up([service]);
      note(`${service} is back`);
    }
    await replayDone;
    await Promise.all(batchRuns);
    note(`replay complete after ${replayRuns} run(s)`);

    // Catch up: speed to the end of the topic, the archiver stopped and run --once, a final batch run.
    // A batch run that completed during the faults published a version: the speed layer now builds its generation.
    const reader = createCassandra(config);
    const generation = (await new GenerationStore(reader).current().finally(() => reader.shutdown())).generation;
    await waitForSpeedCaughtUp(config, Math.max(5_000, budgetEnd - Date.now() - 45_000), undefined, generation);
    note(`speed caught up (generation ${generation})`);
    await archive.stop();
    for (let attempt = 1; ; attempt++) {
      const once = await runCli(['archive', '--once', '--json'], { env, timeoutMs: 120_000 });
      if (once.code === 0) break;
      if (attempt >= 10) throw new Error(`archive --once failed: ${once.stderr}`);
      await sleep(1_000);
    }
    let version = 0;
    for (let attempt = 1; ; attempt++) {
      const run = await runCli(['batch', 'run', '--json'], { env, timeoutMs: 120_000 });
      if (run.code === 0) {
        version = JSON.parse(run.stdout).version as number;
        break;
      }
      if (attempt >= 10) throw new Error(`final batch run failed: ${run.stderr}`);
      await sleep(1_000);
    }
    note(`archived; batch version ${version} published`);

    const expected = await oracleDaily(con, files);
    const meterIds = opts.households.map((h) => `lcl:${h}`);
    // The speed layer rebuilds the new version's generation; until then the API answers an older pair.
    const deadline = Math.min(Date.now() + 90_000, budgetEnd - 10_000);
    let last: Served | undefined;
    let lastError: unknown;
    for (;;) {
      try {
        last = await served(url, meterIds);
        if (last.batchVersion >= version && !last.stale) break;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) {
        if (last === undefined) throw new Error(`the API never answered: ${String(lastError)}`);
        note(`the API did not reach version ${version} (at ${last.batchVersion}, stale ${last.stale}); comparing what it serves`);
        break;
      }
      await sleep(500);
    }
    const result = compare(expected, last.byDay);
    const master = await checkMaster(con, roundConfig, opts.log);
    note(`served ${result.servedReadings} readings; lost ${result.lost}, double-counted ${result.doubleCounted}`);
    return {
      seed: opts.seed,
      seconds: (Date.now() - started) / 1000,
      faults,
      expectedReadings: [...expected.values()].reduce((a, b) => a + b.n, 0),
      ...result,
      masterMissingOffsets: master.missing,
      masterDuplicateOffsets: master.duplicates,
      log: events,
    };
  } catch (err) {
    for (const name of ['speed', 'archive', 'api', 'replay', 'batch']) {
      let tail = '';
      try {
        tail = readFileSync(logFile(name), 'utf8').slice(-1_500);
      } catch {
        // never started
      }
      if (tail !== '') opts.log.error({ seed: opts.seed }, `chaos ${name} log tail:\n${tail}`);
    }
    throw new Error(`chaos round seed ${opts.seed} failed: ${(err as Error).message}\n${events.join('\n')}`, { cause: err });
  } finally {
    await Promise.all([speed.stop(), archive.stop(), api.stop()]);
    con.closeSync();
    db.closeSync();
    if (process.env.CHAOS_KEEP_WORK !== '1') rmSync(work, { recursive: true, force: true });
  }
}
