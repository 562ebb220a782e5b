import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { MeterRegistryStore } from '../../core/meter-registry.ts';
import { ausgridMeters, lclMeters, opsdMeters } from '../../ingest/sources/index.ts';
import { cliEnv, runCli, spawnCli } from '../support/cli.ts';
import { topicMessageCount, withFreshTopics } from '../support/kafka-helpers.ts';
import { spawnSpeed, waitForSpeedCaughtUp, withFreshKeyspace } from '../support/speed-helpers.ts';
import { MEASURES, oracle, type Values } from './oracle.ts';

/**
 * Which real files an end-to-end run replays. `early` files are replayed before the archiver and the
 * batch run (they end up in batch(V)); `late` ones after it (speed(V) alone, or across the boundary:
 * the raw LCL file re-sends a year the 2013 file already put in the batch).
 */
export interface DataSubset {
  dataDir: string;
  lclEarly: string[];
  lclLate: string[];
  lclRaw: boolean;
  opsd: string[];
  ausgrid: boolean;
}

export interface E2eReport {
  answers: number;
  values: number;
  maxAbsError: number;
  mismatches: string[];
  deadLetters: { expected: number; actual: number };
  batchVersion: number;
  timings: Record<string, number>;
}

const TOLERANCE_KWH = 1e-6;
const RANGE = 'from=2010-01-01&to=2020-01-01';

function must(what: string, r: { code: number; stdout: string; stderr: string }): string {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function linkDir(dir: string, files: string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const f of files) symlinkSync(f, join(dir, basename(f)));
  return dir;
}

async function poll<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The whole pipeline through the real command line, on fresh topics and a fresh keyspace of `base`'s
 * services: import the meters, replay the early files, run the speed layer, `archive --once`,
 * `batch run`, replay the late files, `serve`; then every (meter, UTC day), (meter, month) and
 * (Acorn group, month) answer of the HTTP API against the DuckDB oracle.
 */
export async function runE2e(base: Config, subset: DataSubset, log: (line: string) => void = () => {}): Promise<E2eReport> {
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (step: string) => {
    timings[step] = (Date.now() - t) / 1000;
    log(`${step}: ${timings[step]?.toFixed(1)} s`);
    t = Date.now();
  };
  const id = randomUUID().slice(0, 8);
  const work = mkdtempSync(join(tmpdir(), 'meterflow-e2e-'));
  const children: ChildProcess[] = [];
  // Even when the caller gives up (a test timeout), no child outlives this process.
  const orphans = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', orphans);
  const D = subset.dataDir;
  const lclFile = (h: string) => join(D, 'lcl-2013', `${h}.csv`);
  const rawFile = join(D, 'lcl-raw', 'MAC000002.csv');
  const ausgridFile = join(D, 'ausgrid-solar-home', 'customer12_2011-2012.csv');
  const households = join(D, 'lcl-2013-households.csv');
  const opsdFiles = subset.opsd.map((h) => join(D, 'opsd-households', `${h}.csv`));
  try {
    const config = await withFreshKeyspace(await withFreshTopics(base, 3), `e2e_${id}`);
    lap('fresh topics and keyspace');
    const env: NodeJS.ProcessEnv = {
      ...cliEnv(config),
      METERFLOW_INGEST__RETENTION_DAYS: '36500',
      METERFLOW_SPEED__FLUSH_INTERVAL_MS: '500',
      METERFLOW_SPEED__REFRESH_INTERVAL_MS: '300',
      METERFLOW_BATCH__DATA_DIR: join(work, 'batch'),
      METERFLOW_BATCH__ARCHIVE__GROUP_ID: `e2e-archiver-${id}`,
      METERFLOW_SPEED__GROUP_ID: `e2e-speed-${id}`,
    };
    const cli = async (what: string, args: string[]) => must(what, await runCli(args, { env, timeoutMs: 1_800_000 }));
    const replay = async (path: string, format: string) => cli(`replay ${path}`, ['ingest', 'replay', path, '--format', format, '--json']);

    // The registry as `meters import --dataset` builds it (in process: three CLI start-ups saved).
    const opsdDir = linkDir(join(work, 'opsd'), opsdFiles);
    const meters = [
      ...(await lclMeters(households)),
      ...(opsdFiles.length > 0 ? await opsdMeters(opsdDir) : []),
      ...(subset.ausgrid ? await ausgridMeters(ausgridFile) : []),
    ];
    const client = createCassandra(config);
    await new MeterRegistryStore(client).upsert(meters).finally(() => client.shutdown());
    lap('meters import');

    // The speed layer starts first: its start-up overlaps the replay, as in a running deployment.
    children.push(spawnSpeed(config, env));
    if (subset.lclEarly.length > 0) await replay(linkDir(join(work, 'lcl-early'), subset.lclEarly.map(lclFile)), 'lcl');
    if (opsdFiles.length > 0) await replay(opsdDir, 'opsd');
    lap('replay before the batch');
    await waitForSpeedCaughtUp(config, 900_000, undefined, 0);
    lap('speed(0) caught up');
    await cli('archive --once', ['archive', '--once']);
    lap('archive --once');
    const manifest = JSON.parse(await cli('batch run', ['batch', 'run', '--full', '--json'])) as { version: number };
    const version = manifest.version;
    lap('batch run');
    const key = (JSON.parse(await cli('keys create', ['keys', 'create', '--name', 'e2e', '--json'])) as { key: string }).key;
    const serveLog = join(work, 'serve.log');
    children.push(spawnCli(['serve', '--port', '0'], env, serveLog));
    const url = await poll('the API URL', 60_000, async () => /listening on (http:\/\/\S+)/.exec(readFileSync(serveLog, 'utf8'))?.[1]);
    const series = async (view: string, rowKey: string, grain: string) => {
      const res = await fetch(
        `${url}/v1/views/${view}/series?key=${encodeURIComponent(rowKey)}&${RANGE}&grain=${grain}&measures=${MEASURES.join(',')}`,
        {
          headers: { authorization: `Bearer ${key}` },
        },
      );
      if (res.status !== 200) throw new Error(`${view} ${rowKey} ${grain}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as {
        buckets: { bucket: string; values: Values }[];
        provenance: { batchVersion: number; speedGeneration: number | null; stale: boolean };
      };
    };
    lap('keys create + serve');

    if (subset.lclLate.length > 0) await replay(linkDir(join(work, 'lcl-late'), subset.lclLate.map(lclFile)), 'lcl');
    if (subset.lclRaw) await replay(rawFile, 'lcl');
    if (subset.ausgrid) await replay(ausgridFile, 'ausgrid');
    lap('replay after the batch');
    await waitForSpeedCaughtUp(config, 900_000, undefined, version);
    lap(`speed(${version}) caught up`);

    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const expected = await oracle(con, {
      lcl: [...subset.lclEarly, ...subset.lclLate].map(lclFile).concat(subset.lclRaw ? [rawFile] : []),
      households,
      opsd: opsdFiles,
      ausgrid: subset.ausgrid ? [ausgridFile] : [],
    }).finally(() => {
      con.closeSync();
      db.closeSync();
    });
    lap('oracle');

    // The API serves the pair (V, speed(V)) once it has seen both.
    const probe = expected.meters[0] as string;
    await poll(`the API serving batch v${version} ⊕ speed(${version})`, 60_000, async () => {
      const p = (await series('meter_15m', `meter=${probe}`, 'day')).provenance;
      return p.batchVersion === version && p.speedGeneration === version && !p.stale ? true : undefined;
    });
    const actual = new Map<string, Values>();
    const queries = [
      ...expected.meters.flatMap((m) => ['day', 'month'].map((g) => ['meter_15m', `meter=${m}`, g] as const)),
      ...expected.regions.map((r) => ['region_hourly', `region=${r}`, 'month'] as const),
    ];
    for (const [view, rowKey, grain] of queries) {
      const body = await series(view, rowKey, grain);
      if (body.provenance.batchVersion !== version || body.provenance.stale)
        throw new Error(`${view} ${rowKey}: served ${JSON.stringify(body.provenance)}, not batch v${version}`);
      for (const b of body.buckets) actual.set(`${view}|${rowKey}|${grain}|${b.bucket.slice(0, 10)}`, b.values);
    }
    lap('API answers');

    const mismatches: string[] = [];
    let maxAbsError = 0;
    let values = 0;
    for (const k of new Set([...expected.answers.keys(), ...actual.keys()])) {
      const e = expected.answers.get(k);
      const a = actual.get(k);
      if (e === undefined || a === undefined) {
        mismatches.push(
          `${k}: ${e === undefined ? 'served but not in the sources' : 'in the sources but not served'} ${JSON.stringify(a ?? e)}`,
        );
        continue;
      }
      for (const m of MEASURES) {
        values++;
        const err = Math.abs((a[m] ?? Number.NaN) - e[m]);
        if (m.endsWith('Kwh')) maxAbsError = Math.max(maxAbsError, Number.isNaN(err) ? Number.POSITIVE_INFINITY : err);
        if (!(m.endsWith('Kwh') ? err <= TOLERANCE_KWH : err === 0)) mismatches.push(`${k} ${m}: served ${a[m]}, sources ${e[m]}`);
      }
    }
    const deadLetters = { expected: expected.deadLetters, actual: await topicMessageCount(config, config.kafka.topics.deadLetters.name) };
    if (deadLetters.actual !== deadLetters.expected)
      mismatches.push(`dead letters: ${deadLetters.actual} on the topic, ${deadLetters.expected} bad cells in the sources`);
    return { answers: expected.answers.size, values, maxAbsError, mismatches, deadLetters, batchVersion: version, timings };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? undefined
          : new Promise((r) => {
              const kill = setTimeout(() => c.kill('SIGKILL'), 20_000);
              c.once('exit', () => r(clearTimeout(kill)));
            }),
      ),
    );
    process.off('exit', orphans);
    rmSync(work, { recursive: true, force: true });
  }
}
