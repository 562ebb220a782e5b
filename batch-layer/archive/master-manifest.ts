import { readFile } from 'node:fs/promises';
import { MeterflowError } from '../../core/errors.ts';
import { writeFileAtomic } from '../layout.ts';

/**
 * The master manifest: the only list of master-dataset files that counts. A Parquet file under
 * master/ that it does not list (a crash between the file's rename and the manifest's) is an
 * orphan: no reader uses it and `batch gc` deletes it.
 *
 * Per partition, the listed files cover one contiguous offset range from `firstOffset` to
 * `lastOffset` (a file covers every offset of its range, including records that did not decode,
 * which the speed layer dead-letters). A batch run covers the log up to B[p] = lastOffset.
 */
export interface MasterFile {
  /** Relative to the master folder. */
  path: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  /** Readings in the file (= offsets in the range minus undecodable records minus retention holes). */
  rows: number;
  /** Records of the range that did not decode (not in the file). */
  skipped: number;
  bytes: number;
  sha256: string;
  createdAt: string;
}

export interface PartitionCoverage {
  firstOffset: number;
  lastOffset: number;
}

export interface MasterManifest {
  format: 1;
  topic: string;
  updatedAt: string;
  partitions: Record<string, PartitionCoverage>;
  files: MasterFile[];
}

export function emptyMasterManifest(topic: string): MasterManifest {
  return { format: 1, topic, updatedAt: new Date(0).toISOString(), partitions: {}, files: [] };
}

/** The manifest, or undefined when nothing was archived yet. */
export async function readMasterManifest(path: string): Promise<MasterManifest | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: MasterManifest;
  try {
    parsed = JSON.parse(text) as MasterManifest;
  } catch (cause) {
    throw new MeterflowError('MF_BATCH_MANIFEST_INVALID', `master manifest ${path} is not JSON`, { cause, details: { path } });
  }
  checkMasterManifest(parsed, path);
  return parsed;
}

export async function writeMasterManifest(path: string, manifest: MasterManifest): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(manifest, null, 1)}\n`);
}

/** Last offset covered per partition (B[p] of a batch run over this manifest). */
export function coveredOffsets(manifest: MasterManifest): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [p, c] of Object.entries(manifest.partitions)) out[Number(p)] = c.lastOffset;
  return out;
}

/** Adds a file that starts right after the partition's coverage (or anywhere, for a partition's first file). */
export function addMasterFile(manifest: MasterManifest, file: MasterFile, now = new Date()): MasterManifest {
  const covered = manifest.partitions[file.partition];
  if (file.lastOffset < file.firstOffset) {
    throw new MeterflowError('MF_INTERNAL', `master file ${file.path}: empty offset range ${file.firstOffset}..${file.lastOffset}`);
  }
  if (covered !== undefined && file.firstOffset <= covered.lastOffset) {
    throw new MeterflowError(
      'MF_INTERNAL',
      `master file ${file.path} overlaps offsets already archived (partition ${file.partition} covered to ${covered.lastOffset})`,
    );
  }
  return {
    ...manifest,
    updatedAt: now.toISOString(),
    partitions: {
      ...manifest.partitions,
      [file.partition]: { firstOffset: covered?.firstOffset ?? file.firstOffset, lastOffset: file.lastOffset },
    },
    files: [...manifest.files, file],
  };
}

/** Structure and the no-overlap rule: files of a partition are disjoint, in order, and within its coverage. */
export function checkMasterManifest(m: MasterManifest, where: string): void {
  const fail = (message: string): never => {
    throw new MeterflowError('MF_BATCH_MANIFEST_INVALID', `master manifest ${where}: ${message}`, { details: { path: where } });
  };
  if (m === null || typeof m !== 'object' || m.format !== 1 || typeof m.topic !== 'string' || !Array.isArray(m.files)) {
    fail('not a format-1 master manifest');
  }
  const last = new Map<number, number>();
  for (const f of m.files) {
    const previous = last.get(f.partition);
    if (previous !== undefined && f.firstOffset <= previous) fail(`${f.path} overlaps an earlier file of partition ${f.partition}`);
    last.set(f.partition, f.lastOffset);
  }
  for (const [p, end] of last) {
    if (m.partitions[p]?.lastOffset !== end) fail(`partition ${p} coverage does not end at its last file`);
  }
}
