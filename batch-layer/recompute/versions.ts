import { copyFile, link, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MeterflowError } from '../../core/errors.ts';
import type { Generation } from '../../schemas/generation.ts';
import { type BatchLayout, fsyncPath, versionDirName, writeFileAtomic } from '../layout.ts';

/** One (view, grain) file of a version. */
export interface VersionFile {
  /** Relative to the version folder: `<view>/<grain>.parquet`. */
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
  ms: number;
  /** Incremental runs: rows recomputed from the master dataset / carried unchanged from the previous version. */
  recomputedRows?: number;
  carriedRows?: number;
}

/** How a version was made: operators read it in `batch versions`. */
export interface RunSummary {
  mode: 'full' | 'incremental' | 'range' | 'rollback';
  /** Why the run is full (asked for, first run, definitions changed...). */
  reason?: string;
  /** The version whose rows were carried forward. */
  baseVersion?: number;
  /** `--from/--to` of a range run (UTC days, both included). */
  range?: { from: string; to: string };
  /** Master readings after the base version's B[p]. */
  newReadings?: number;
  /** Event-time windows of the master dataset read to recompute the dirty buckets. */
  windows?: { from: string; to: string }[];
  /** Master readings loaded (all of them in a full run). */
  readingsLoaded: number;
  /** View rows (one row key at one bucket) recomputed vs carried from the base version, over every view and grain. */
  recomputedRows: number;
  carriedRows: number;
  /** (view, grain) files hard-linked from the base version (no dirty bucket at that grain). */
  linkedFiles: number;
}

/** `views/v<N>/manifest.json`: written last, so its presence marks a complete version. */
export interface VersionManifest {
  format: 1;
  version: number;
  createdAt: string;
  /** Readings-topic partition → last offset included (B[p]); the speed layer starts at B[p] + 1. */
  offsets: Record<string, number>;
  master: { topic: string; files: number; rows: number; manifestUpdatedAt: string };
  meters: number;
  views: Record<string, Record<string, VersionFile>>;
  timing: { snapshotMs: number; loadMs: number; factsMs?: number; viewsMs: number; totalMs: number };
  /** definitionsFingerprint (plan.ts) of the SQL and registry that computed the rows: incremental runs need the same. */
  fingerprint?: string;
  /** Absent on versions made before incremental runs existed. */
  run?: RunSummary;
  /** Set on a version made by `batch rollback`: the version whose files it serves again. */
  rollbackOf?: number;
}

/** Where generations are published (GenerationStore in Cassandra; a fake in unit tests). */
export interface GenerationPublisher {
  current(): Promise<Generation>;
  publish(g: Generation, manifestJson: string): Promise<void>;
}

export interface VersionInfo {
  version: number;
  complete: boolean;
  current: boolean;
  manifest?: VersionManifest;
}

const VERSION_DIR = /^v(\d+)$/;

export async function readCurrentVersion(layout: BatchLayout): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(layout.current, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const m = VERSION_DIR.exec(text.trim());
  if (!m) throw new MeterflowError('MF_BATCH_MANIFEST_INVALID', `${layout.current} should hold "v<N>", holds ${JSON.stringify(text)}`);
  return Number(m[1]);
}

export async function readVersionManifest(layout: BatchLayout, version: number): Promise<VersionManifest | undefined> {
  const path = join(layout.viewsDir, versionDirName(version), 'manifest.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const m = JSON.parse(text) as VersionManifest;
    if (m.format !== 1 || m.version !== version) throw new Error(`format ${m.format}, version ${m.version}`);
    return m;
  } catch (cause) {
    throw new MeterflowError('MF_BATCH_MANIFEST_INVALID', `version manifest ${path} is invalid: ${(cause as Error).message}`, { cause });
  }
}

/** Every version folder, newest first; `complete` when its manifest is there. */
export async function listVersions(layout: BatchLayout): Promise<VersionInfo[]> {
  let names: string[];
  try {
    names = await readdir(layout.viewsDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const current = await readCurrentVersion(layout);
  const out: VersionInfo[] = [];
  for (const name of names) {
    const m = VERSION_DIR.exec(name);
    if (!m) continue;
    const version = Number(m[1]);
    const manifest = await readVersionManifest(layout, version).catch(() => undefined);
    out.push({ version, complete: manifest !== undefined, current: version === current, ...(manifest ? { manifest } : {}) });
  }
  return out.sort((a, b) => b.version - a.version);
}

/**
 * Claims the next version number: above every folder and every published generation (a rollback
 * publishes new generations too), by creating its folder; mkdir fails if another run took it.
 */
export async function claimVersion(layout: BatchLayout, generations: GenerationPublisher): Promise<{ version: number; dir: string }> {
  await mkdir(layout.viewsDir, { recursive: true });
  const published = (await generations.current()).generation;
  for (let attempt = 0; attempt < 10; attempt++) {
    const local = (await listVersions(layout))[0]?.version ?? 0;
    const version = Math.max(local, published) + 1;
    const dir = join(layout.viewsDir, versionDirName(version));
    try {
      await mkdir(dir);
      return { version, dir };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new MeterflowError('MF_BATCH_FAILED', `could not claim a version folder in ${layout.viewsDir}: other runs keep taking them`);
}

export interface PublishHooks {
  /** Called after the version's manifest is written and before CURRENT moves (tests fail here). */
  beforePublish?: (manifest: VersionManifest) => void | Promise<void>;
}

/**
 * Publication, in the only order that keeps every reader consistent:
 *   1. views/v<N>/manifest.json (the version is complete; nobody serves it yet);
 *   2. views/CURRENT.tmp → rename → views/CURRENT (the one atomic switch);
 *   3. the generation {N, B} in Cassandra, for the speed layer to rebuild speed(N) from B[p] + 1.
 * Failing before 2 leaves the previous version served. Failing between 2 and 3 leaves CURRENT ahead
 * of the published generation; `ensurePublished` (run at the start of every batch run and
 * rollback) publishes it then. The serving layer pairs batch(N) with speed(N) only.
 */
export async function publishVersion(
  layout: BatchLayout,
  manifest: VersionManifest,
  generations: GenerationPublisher,
  hooks: PublishHooks = {},
  signal?: AbortSignal,
): Promise<void> {
  const dir = join(layout.viewsDir, versionDirName(manifest.version));
  const json = `${JSON.stringify(manifest, null, 1)}\n`;
  await writeFileAtomic(join(dir, 'manifest.json'), json);
  await hooks.beforePublish?.(manifest);
  if (signal?.aborted) throw new MeterflowError('MF_BATCH_FAILED', `version ${manifest.version} not published: ${String(signal.reason)}`);
  await writeCurrent(layout, manifest.version);
  await generations.publish({ generation: manifest.version, offsets: numericOffsets(manifest.offsets), publishedAt: Date.now() }, json);
}

async function writeCurrent(layout: BatchLayout, version: number): Promise<void> {
  const tmp = join(layout.viewsDir, 'CURRENT.tmp');
  await writeFile(tmp, `${versionDirName(version)}\n`);
  await fsyncPath(tmp);
  await rename(tmp, layout.current);
  await fsyncPath(dirname(layout.current));
}

/** Publishes CURRENT's generation when a crash came between the CURRENT switch and the Cassandra write. */
export async function ensurePublished(layout: BatchLayout, generations: GenerationPublisher): Promise<number | undefined> {
  const current = await readCurrentVersion(layout);
  if (current === undefined || (await generations.current()).generation >= current) return undefined;
  const manifest = await readVersionManifest(layout, current);
  if (manifest === undefined) throw new MeterflowError('MF_BATCH_MANIFEST_INVALID', `CURRENT names v${current}, which has no manifest`);
  await generations.publish(
    { generation: current, offsets: numericOffsets(manifest.offsets), publishedAt: Date.now() },
    `${JSON.stringify(manifest, null, 1)}\n`,
  );
  return current;
}

/**
 * Serves an older complete version again. Generations only move forward (the speed layer and the
 * serving layer follow the newest), so a rollback is a NEW version N+1 whose files are hard links
 * to the old version's and whose offsets are the old version's B: the speed layer rebuilds
 * speed(N+1) from those offsets, and batch(N+1) ⊕ speed(N+1) is exact again.
 */
export async function rollback(layout: BatchLayout, target: number, generations: GenerationPublisher): Promise<VersionManifest> {
  await ensurePublished(layout, generations);
  const old = await readVersionManifest(layout, target);
  if (old === undefined) {
    const known = (await listVersions(layout)).filter((v) => v.complete).map((v) => v.version);
    throw new MeterflowError(
      'MF_BATCH_VERSION_UNKNOWN',
      `no complete batch version ${target}; complete versions: ${known.join(', ') || 'none'}`,
    );
  }
  const { version, dir } = await claimVersion(layout, generations);
  const from = join(layout.viewsDir, versionDirName(target));
  for (const grains of Object.values(old.views)) {
    for (const f of Object.values(grains)) {
      await mkdir(dirname(join(dir, f.file)), { recursive: true });
      await link(join(from, f.file), join(dir, f.file)).catch(() => copyFile(join(from, f.file), join(dir, f.file)));
    }
  }
  const rows = Object.values(old.views).reduce((n, grains) => n + Object.values(grains).reduce((k, f) => k + f.rows, 0), 0);
  const manifest: VersionManifest = {
    ...old,
    version,
    createdAt: new Date().toISOString(),
    rollbackOf: old.rollbackOf ?? target,
    run: {
      mode: 'rollback',
      baseVersion: target,
      readingsLoaded: 0,
      recomputedRows: 0,
      carriedRows: rows,
      linkedFiles: Object.values(old.views).reduce((n, grains) => n + Object.keys(grains).length, 0),
    },
  };
  await publishVersion(layout, manifest, generations);
  return manifest;
}

function numericOffsets(offsets: Record<string, number>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [p, o] of Object.entries(offsets)) out[Number(p)] = o;
  return out;
}
