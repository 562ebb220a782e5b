import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, listValue } from '@duckdb/node-api';
import { MeterflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { Meter } from '../../schemas/reading.ts';
import { type GrainId, VIEWS, type ViewDefinition } from '../../schemas/views/index.ts';
import { coveredOffsets, type MasterManifest, readMasterManifest } from '../archive/master-manifest.ts';
import { type BatchLayout, versionDirName } from '../layout.ts';
import { compileFactsQuery, compileViewQuery, createMetersTable } from '../sql/index.ts';
import { type DateRange, dateRangeSpan, dirtyBucketRanges, factWindows, instantSpans, mergeRanges, type Range } from './dirty-buckets.ts';
import { createRegisterIndex, inRangesSql, loadScopedReadings, scanChanges } from './incremental-scope.ts';
import { definitionsFingerprint, planRun, type RunPlan } from './plan.ts';
import {
  claimVersion,
  ensurePublished,
  type GenerationPublisher,
  type PublishHooks,
  publishVersion,
  type RunSummary,
  type VersionFile,
  type VersionManifest,
} from './versions.ts';
import { writeFullViewFile, writeMergedViewFile } from './view-files.ts';

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
  /**
   * `auto` (default): incremental when the served version allows it (plan.ts), else full;
   * `full`: recompute everything.
   */
  mode?: 'auto' | 'full';
  /** Also recompute every bucket of these UTC days (backfill, re-run after a fix); the rest is carried. */
  range?: DateRange;
}

/**
 * A batch run. Full: snapshot the master manifest (its files and coverage B[p]), load the
 * snapshot's readings and the registry into DuckDB, run every view's compiled SQL at every grain
 * it serves, write each result as Parquet into a new version folder, then publish the version
 * (versions.ts: manifest, CURRENT rename, generation). The result files have the compiled query's
 * columns — row_key, one per dimension, bucket, the monoid state columns, the finalized and derived
 * values — so `compileMergeQuery` merges them and `readViewRows` turns them into ViewRows whose
 * `states` the serving layer adds to speed partials with plusStates.
 *
 * Incremental (the default once a version is served): the readings after the served version's
 * B[p] name the event instants whose facts may have changed; every bucket holding one of them, at
 * every grain, is dirty (dirty-buckets.ts). Only the master readings in the dirty buckets' time
 * windows (plus register baselines) are loaded, the same SQL recomputes the dirty buckets, and
 * every other row is carried from the served version's files (view-files.ts): the rows a full run
 * over the same master dataset would write.
 */
export async function runRecompute(o: RecomputeOptions): Promise<VersionManifest> {
  const t0 = Date.now();
  const log = o.log.child({ component: 'recompute' });
  await ensurePublished(o.layout, o.generations);
  const master = await readMasterManifest(o.layout.masterManifest);
  if (master === undefined || master.files.length === 0) {
    throw new MeterflowError('MF_BATCH_NO_DATA', `nothing archived yet in ${o.layout.masterDir}: run \`meterflow archive --once\` first`);
  }
  if (o.range !== undefined) dateRangeSpan(o.range);
  const files = master.files.map((f) => join(o.layout.masterDir, f.path));
  for (const f of files) {
    await access(f).catch((cause) => {
      throw new MeterflowError('MF_BATCH_MANIFEST_INVALID', `master file ${f} listed in the manifest is missing`, { cause });
    });
  }
  const views = o.views ?? VIEWS;
  const fingerprint = definitionsFingerprint(views, o.meters);
  let plan = await planRun({ layout: o.layout, master, fingerprint, requested: o.mode ?? 'auto', ...(o.range ? { range: o.range } : {}) });
  const offsets = Object.fromEntries(Object.entries(coveredOffsets(master)).map(([p, off]) => [p, off]));
  const { version, dir } = await claimVersion(o.layout, o.generations);
  const runLog = log.child({ version });
  runLog.info(
    { files: files.length, offsets, mode: plan.mode, ...(plan.mode === 'full' ? { reason: plan.reason } : {}) },
    'batch run started',
  );
  const t1 = Date.now();
  await mkdir(o.layout.tmpDir, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: o.memoryLimit ?? '2GB',
    temp_directory: join(o.layout.tmpDir, `v${version}`),
    ...(o.threads ? { threads: String(o.threads) } : {}),
  });
  const con = await instance.connect();
  const written: Record<string, Record<string, VersionFile>> = {};
  let loadMs = 0;
  let viewsMs = 0;
  let factsMs = 0;
  let linked = 0;
  try {
    let scope: IncrementalScope | undefined;
    if (plan.mode !== 'full') {
      const found = await incrementalScope(con, o.layout, master, files, views, plan);
      if ('reason' in found) plan = { mode: 'full', reason: found.reason };
      else scope = found;
    }
    let readingsLoaded: number;
    if (scope === undefined) {
      await con.run('CREATE TABLE readings AS SELECT * FROM read_parquet($files)', { files: listValue(files) });
      readingsLoaded = Number((await con.runAndReadAll('SELECT count(*) AS n FROM readings')).getRowObjectsJS()[0]?.n ?? 0);
    } else {
      readingsLoaded = await loadScopedReadings(con, 'readings', files, scope.windows);
    }
    await createMetersTable(con, 'meters', o.meters);
    loadMs = Date.now() - t1;
    runLog.info({ readingsLoaded, meters: o.meters.length, ms: loadMs, mode: plan.mode }, 'snapshot loaded');
    const t2 = Date.now();
    // Dedupe, register conversion, local time and prices once per run; every view and grain
    // then only buckets and aggregates these facts.
    const factsQuery = compileFactsQuery({ readings: { kind: 'table', name: 'readings' }, meters: { kind: 'table', name: 'meters' } });
    await con.run(`CREATE TEMP TABLE facts AS ${factsQuery.sql}`);
    await con.run('DROP TABLE readings');
    factsMs = Date.now() - t2;
    runLog.info({ ms: factsMs }, 'interval facts computed');
    for (const view of views) {
      await mkdir(join(dir, view.name), { recursive: true });
      written[view.name] = {};
      for (const grain of view.grains) {
        const rel = join(view.name, `${grain}.parquet`);
        const path = join(dir, rel);
        let file: VersionFile;
        if (scope === undefined) {
          const { sql } = compileViewQuery(view, grain, tables('facts'));
          file = await writeFullViewFile(con, sql, path, rel);
        } else {
          // Only the facts of this grain's dirty windows: a fine grain then aggregates days, not months.
          const dirty = scope.dirty.get(grain) ?? [];
          await con.run(
            `CREATE OR REPLACE TEMP VIEW grain_facts AS SELECT * FROM facts WHERE ${inRangesSql(factWindows(grain, dirty), 'interval_start_ms')}`,
          );
          const { sql } = compileViewQuery(view, grain, tables('grain_facts'));
          const previous = scope.base.views[view.name]?.[grain];
          if (previous === undefined) {
            throw new MeterflowError(
              'MF_BATCH_MANIFEST_INVALID',
              `v${scope.base.version} has no ${view.name} at grain ${grain} to carry rows from`,
            );
          }
          if (dirty.length === 0) linked++;
          file = await writeMergedViewFile(
            con,
            sql,
            dirty,
            { path: join(o.layout.viewsDir, versionDirName(scope.base.version), previous.file), entry: previous },
            path,
            rel,
          );
        }
        (written[view.name] as Record<string, VersionFile>)[grain] = file;
        await o.hooks?.afterView?.(view.name, grain);
      }
    }
    viewsMs = Date.now() - t2;
    const manifest: VersionManifest = {
      format: 1,
      version,
      createdAt: new Date().toISOString(),
      offsets,
      master: { topic: master.topic, files: files.length, rows: masterRows(master), manifestUpdatedAt: master.updatedAt },
      meters: o.meters.length,
      views: written,
      timing: { snapshotMs: t1 - t0, loadMs, factsMs, viewsMs, totalMs: Date.now() - t0 },
      fingerprint,
      run: runSummary(plan, scope, readingsLoaded, written, linked),
    };
    if (o.signal?.aborted) throw new MeterflowError('MF_BATCH_FAILED', `batch run v${version} stopped: ${String(o.signal.reason)}`);
    await publishVersion(o.layout, manifest, o.generations, o.hooks, o.signal);
    runLog.info({ totalMs: Date.now() - t0, viewsMs, run: manifest.run }, 'batch version published');
    return manifest;
  } finally {
    con.closeSync();
    instance.closeSync();
    await rm(join(o.layout.tmpDir, `v${version}`), { recursive: true, force: true });
  }
}

function tables(facts: string) {
  return {
    readings: { kind: 'table', name: 'readings' },
    meters: { kind: 'table', name: 'meters' },
    facts: { kind: 'table', name: facts },
  } as const;
}

function masterRows(master: MasterManifest): number {
  return master.files.reduce((n, f) => n + f.rows, 0);
}

interface IncrementalScope {
  base: VersionManifest;
  newReadings: number;
  /** Dirty bucket-id ranges per grain. */
  dirty: Map<GrainId, Range[]>;
  /** Event-time windows of master readings to load (every grain's). */
  windows: Range[];
}

/** What an incremental or range run recomputes, or why it has to be full after all. */
async function incrementalScope(
  con: DuckDBConnection,
  layout: BatchLayout,
  master: MasterManifest,
  files: string[],
  views: readonly ViewDefinition[],
  plan: Exclude<RunPlan, { mode: 'full' }>,
): Promise<IncrementalScope | { reason: string }> {
  const base = plan.base;
  // Only files whose range ends after B[p] can hold new readings (file ranges never straddle B).
  const newFiles = master.files
    .filter((f) => f.lastOffset > (base.offsets[String(f.partition)] ?? -1))
    .map((f) => join(layout.masterDir, f.path));
  await createRegisterIndex(con, files);
  const scan = await scanChanges(con, files, newFiles, base.offsets);
  if (scan.mixedSeries > 0) return { reason: `${scan.mixedSeries} meter channels hold both interval and register reads` };
  const spans = mergeRanges([...instantSpans(scan.instants), ...(plan.range ? [dateRangeSpan(plan.range)] : [])]);
  const grains = new Set(views.flatMap((v) => v.grains));
  const dirty = new Map<GrainId, Range[]>([...grains].map((g) => [g, spans.length === 0 ? [] : dirtyBucketRanges(g, spans)]));
  const windows = mergeRanges([...dirty].flatMap(([g, ranges]) => factWindows(g, ranges)));
  return { base, newReadings: scan.newRecords, dirty, windows };
}

function runSummary(
  plan: RunPlan,
  scope: IncrementalScope | undefined,
  readingsLoaded: number,
  written: Record<string, Record<string, VersionFile>>,
  linked: number,
): RunSummary {
  const all = Object.values(written).flatMap((g) => Object.values(g));
  const total = all.reduce((n, f) => n + f.rows, 0);
  if (plan.mode === 'full' || scope === undefined) {
    return {
      mode: 'full',
      reason: plan.mode === 'full' ? plan.reason : 'full',
      readingsLoaded,
      recomputedRows: total,
      carriedRows: 0,
      linkedFiles: 0,
    };
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    mode: plan.mode,
    baseVersion: scope.base.version,
    ...(plan.range ? { range: plan.range } : {}),
    newReadings: scope.newReadings,
    windows: scope.windows.map(([lo, hi]) => ({ from: iso(lo), to: iso(hi) })),
    readingsLoaded,
    recomputedRows: all.reduce((n, f) => n + (f.recomputedRows ?? 0), 0),
    carriedRows: all.reduce((n, f) => n + (f.carriedRows ?? 0), 0),
    linkedFiles: linked,
  };
}
