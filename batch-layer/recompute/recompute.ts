import { access, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { MeterflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { Meter } from '../../schemas/reading.ts';
import { VIEWS, type ViewDefinition } from '../../schemas/views/index.ts';
import { coveredOffsets, readMasterManifest } from '../archive/master-manifest.ts';
import { type BatchLayout, sha256File } from '../layout.ts';
import { compileFactsQuery, compileViewQuery, createMetersTable } from '../sql/index.ts';
import { sqlString } from '../sql/sql-text.ts';
import {
  claimVersion,
  ensurePublished,
  type GenerationPublisher,
  type PublishHooks,
  publishVersion,
  type VersionFile,
  type VersionManifest,
} from './versions.ts';

export interface RecomputeOptions {
  layout: BatchLayout;
  log: Logger;
  /** The meter registry (dimensions, time zones, tariffs). */
  meters: readonly Meter[];
  generations: GenerationPublisher;
  views?: readonly ViewDefinition[];
  memoryLimit?: string;
  threads?: number;
  hooks?: PublishHooks & {
    /** Called after each (view, grain) file is written (tests fail here). */
    afterView?: (view: string, grain: string) => void | Promise<void>;
  };
  /** Aborted (e.g. the job lease was lost): the run stops before publishing. */
  signal?: AbortSignal;
}

/**
 * A full recompute: snapshot the master manifest (its files and coverage B[p]), load the
 * snapshot's readings and the registry into DuckDB, run every view's compiled SQL at every grain
 * it serves, write each result as Parquet into a new version folder, then publish the version
 * (versions.ts: manifest, CURRENT rename, generation). The result files have the compiled query's
 * columns — row_key, one per dimension, bucket, the monoid state columns, the finalized and derived
 * values — so `compileMergeQuery` merges them and `readViewRows` turns them into ViewRows whose
 * `states` the serving layer adds to speed partials with plusStates.
 */
export async function runRecompute(o: RecomputeOptions): Promise<VersionManifest> {
  const t0 = Date.now();
  const log = o.log.child({ component: 'recompute' });
  await ensurePublished(o.layout, o.generations);
  const master = await readMasterManifest(o.layout.masterManifest);
  if (master === undefined || master.files.length === 0) {
    throw new MeterflowError('MF_BATCH_NO_DATA', `nothing archived yet in ${o.layout.masterDir}: run \`meterflow archive --once\` first`);
  }
  const files = master.files.map((f) => join(o.layout.masterDir, f.path));
  for (const f of files) {
    await access(f).catch((cause) => {
      throw new MeterflowError('MF_BATCH_MANIFEST_INVALID', `master file ${f} listed in the manifest is missing`, { cause });
    });
  }
  const offsets = Object.fromEntries(Object.entries(coveredOffsets(master)).map(([p, off]) => [p, off]));
  const { version, dir } = await claimVersion(o.layout, o.generations);
  const runLog = log.child({ version });
  runLog.info({ files: files.length, offsets }, 'batch run started');
  const t1 = Date.now();

  await mkdir(o.layout.tmpDir, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: o.memoryLimit ?? '2GB',
    temp_directory: join(o.layout.tmpDir, `v${version}`),
    ...(o.threads ? { threads: String(o.threads) } : {}),
  });
  const con = await instance.connect();
  const views: Record<string, Record<string, VersionFile>> = {};
  let loadMs = 0;
  let viewsMs = 0;
  let factsMs = 0;
  try {
    await con.run('CREATE TABLE readings AS SELECT * FROM read_parquet($files)', { files: listValue(files) });
    const rows = Number((await con.runAndReadAll('SELECT count(*) AS n FROM readings')).getRowObjectsJS()[0]?.n ?? 0);
    await createMetersTable(con, 'meters', o.meters);
    loadMs = Date.now() - t1;
    runLog.info({ rows, meters: o.meters.length, ms: loadMs }, 'snapshot loaded');
    const t2 = Date.now();
    // Dedupe, register conversion, local time and prices once per run; every view and grain
    // then only buckets and aggregates these facts.
    const factsQuery = compileFactsQuery({ readings: { kind: 'table', name: 'readings' }, meters: { kind: 'table', name: 'meters' } });
    await con.run(`CREATE TEMP TABLE facts AS ${factsQuery.sql}`);
    await con.run('DROP TABLE readings');
    factsMs = Date.now() - t2;
    runLog.info({ ms: factsMs }, 'interval facts computed');
    for (const view of o.views ?? VIEWS) {
      await mkdir(join(dir, view.name), { recursive: true });
      views[view.name] = {};
      for (const grain of view.grains) {
        const started = Date.now();
        const rel = join(view.name, `${grain}.parquet`);
        const path = join(dir, rel);
        const { sql } = compileViewQuery(view, grain, {
          readings: { kind: 'table', name: 'readings' },
          meters: { kind: 'table', name: 'meters' },
          facts: { kind: 'table', name: 'facts' },
        });
        const copied = await con.runAndReadAll(`COPY (${sql}\n) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`);
        const count = Number(copied.getRowObjectsJS()[0]?.Count ?? 0);
        (views[view.name] as Record<string, VersionFile>)[grain] = {
          file: rel,
          rows: count,
          bytes: (await stat(path)).size,
          sha256: await sha256File(path),
          ms: Date.now() - started,
        };
        await o.hooks?.afterView?.(view.name, grain);
      }
    }
    viewsMs = Date.now() - t2;
    const manifest: VersionManifest = {
      format: 1,
      version,
      createdAt: new Date().toISOString(),
      offsets,
      master: { topic: master.topic, files: files.length, rows, manifestUpdatedAt: master.updatedAt },
      meters: o.meters.length,
      views,
      timing: { snapshotMs: t1 - t0, loadMs, factsMs, viewsMs, totalMs: Date.now() - t0 },
    };
    if (o.signal?.aborted) throw new MeterflowError('MF_BATCH_FAILED', `batch run v${version} stopped: ${String(o.signal.reason)}`);
    await publishVersion(o.layout, manifest, o.generations, o.hooks, o.signal);
    runLog.info({ totalMs: Date.now() - t0, viewsMs }, 'batch version published');
    return manifest;
  } finally {
    con.closeSync();
    instance.closeSync();
    await rm(join(o.layout.tmpDir, `v${version}`), { recursive: true, force: true });
  }
}
