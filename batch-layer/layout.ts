import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../core/config.ts';

/**
 * The batch layer's folder:
 *   <dataDir>/master/manifest.json                       the master dataset: files and per-partition offset coverage
 *   <dataDir>/master/p=<p>/<first>-<last>.parquet         readings of partition p, offsets first..last (20 digits each)
 *   <dataDir>/views/v<N>/<view>/<grain>.parquet           one batch view at one grain
 *   <dataDir>/views/v<N>/manifest.json                    written last: a version folder without it is unfinished
 *   <dataDir>/views/CURRENT                               "v<N>": the served version, switched by one rename
 *   <dataDir>/tmp/                                        DuckDB spill space of batch runs
 */
export interface BatchLayout {
  dataDir: string;
  masterDir: string;
  masterManifest: string;
  viewsDir: string;
  current: string;
  tmpDir: string;
}

export function batchLayout(dataDir: string): BatchLayout {
  const root = resolve(dataDir);
  return {
    dataDir: root,
    masterDir: join(root, 'master'),
    masterManifest: join(root, 'master', 'manifest.json'),
    viewsDir: join(root, 'views'),
    current: join(root, 'views', 'CURRENT'),
    tmpDir: join(root, 'tmp'),
  };
}

export function layoutFor(config: Config): BatchLayout {
  return batchLayout(config.batch.dataDir ?? join(config.stateDir, 'batch'));
}

/** `p=3/00000000000000001000-00000000000000001999.parquet`, relative to the master folder. */
export function masterFileName(partition: number, firstOffset: number, lastOffset: number): string {
  return join(`p=${partition}`, `${pad(firstOffset)}-${pad(lastOffset)}.parquet`);
}

export function versionDirName(version: number): string {
  return `v${version}`;
}

function pad(n: number): string {
  return String(n).padStart(20, '0');
}

/**
 * Writes a file so that readers see the old content or the new, never a part: a temp name in the
 * same folder, fsync, rename over the target, fsync of the folder (so the rename survives a power cut).
 */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content);
  await fsyncPath(tmp);
  await rename(tmp, path);
  await fsyncPath(dirname(path));
}

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
