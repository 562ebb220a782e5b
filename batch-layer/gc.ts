import { readdir, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { readMasterManifest } from './archive/master-manifest.ts';
import { type BatchLayout, versionDirName } from './layout.ts';
import { listVersions, readCurrentVersion } from './recompute/versions.ts';

export interface GcOptions {
  /** Complete versions kept, newest first; CURRENT is always kept too. */
  keep: number;
  /** Unlisted master files and unfinished version folders younger than this are left alone. */
  orphanMinAgeMs: number;
  now?: number;
}

export interface GcReport {
  deletedVersions: number[];
  deletedUnfinished: number[];
  deletedMasterOrphans: string[];
  kept: number[];
}

/**
 * Deletes old batch versions (all but the `keep` newest complete ones and CURRENT), version
 * folders of runs that never finished, and master files the manifest does not list (crash
 * leftovers). Files younger than `orphanMinAgeMs` are spared: a running archive or batch run may
 * be about to list them.
 */
export async function collectGarbage(layout: BatchLayout, o: GcOptions): Promise<GcReport> {
  const now = o.now ?? Date.now();
  const old = async (path: string) => now - (await stat(path)).mtimeMs >= o.orphanMinAgeMs;
  const report: GcReport = { deletedVersions: [], deletedUnfinished: [], deletedMasterOrphans: [], kept: [] };

  const current = await readCurrentVersion(layout);
  const versions = await listVersions(layout);
  const keep = new Set(
    versions
      .filter((v) => v.complete)
      .slice(0, Math.max(1, o.keep))
      .map((v) => v.version),
  );
  if (current !== undefined) keep.add(current);
  for (const v of versions) {
    const dir = join(layout.viewsDir, versionDirName(v.version));
    if (keep.has(v.version)) {
      report.kept.push(v.version);
    } else if (v.complete) {
      await rm(dir, { recursive: true, force: true });
      report.deletedVersions.push(v.version);
    } else if (await old(dir)) {
      await rm(dir, { recursive: true, force: true });
      report.deletedUnfinished.push(v.version);
    }
  }

  const manifest = await readMasterManifest(layout.masterManifest);
  const listed = new Set((manifest?.files ?? []).map((f) => f.path));
  for (const file of await filesUnder(layout.masterDir)) {
    const rel = relative(layout.masterDir, file);
    if (rel === 'manifest.json' || listed.has(rel)) continue;
    if (!(await old(file))) continue;
    await rm(file, { force: true });
    report.deletedMasterOrphans.push(rel);
  }
  return report;
}

async function filesUnder(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}
