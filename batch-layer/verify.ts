import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readMasterManifest } from './archive/master-manifest.ts';
import { type BatchLayout, sha256File, versionDirName } from './layout.ts';
import { listVersions } from './recompute/versions.ts';

export interface VerifyProblem {
  /** master, or v<N> */
  where: string;
  path: string;
  problem: 'missing' | 'size' | 'checksum';
  expected?: string | number;
  actual?: string | number;
}

export interface VerifyReport {
  filesChecked: number;
  bytesChecked: number;
  problems: VerifyProblem[];
}

/**
 * Re-reads every file the master manifest and the complete versions list and compares its size
 * and SHA-256 with what was recorded when it was written: bit rot, a truncated copy or a file
 * edited by hand shows up before a recompute or a query reads it. `versions` limits the check
 * (default: every complete version; the master dataset is always checked).
 */
export async function verifyBatchData(layout: BatchLayout, versions?: readonly number[]): Promise<VerifyReport> {
  const report: VerifyReport = { filesChecked: 0, bytesChecked: 0, problems: [] };
  const check = async (where: string, path: string, bytes: number | undefined, sha256: string) => {
    const size = await stat(path).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined) {
      report.problems.push({ where, path, problem: 'missing' });
      return;
    }
    report.filesChecked++;
    report.bytesChecked += size;
    // A size of 0 in a manifest means "not recorded" (older manifests), not an empty file.
    if (bytes !== undefined && bytes > 0 && size !== bytes)
      report.problems.push({ where, path, problem: 'size', expected: bytes, actual: size });
    const actual = await sha256File(path);
    if (actual !== sha256) report.problems.push({ where, path, problem: 'checksum', expected: sha256, actual });
  };
  const master = await readMasterManifest(layout.masterManifest);
  for (const f of master?.files ?? []) await check('master', join(layout.masterDir, f.path), f.bytes, f.sha256);
  for (const v of await listVersions(layout)) {
    if (v.manifest === undefined || (versions !== undefined && !versions.includes(v.version))) continue;
    for (const grains of Object.values(v.manifest.views)) {
      for (const f of Object.values(grains)) {
        await check(versionDirName(v.version), join(layout.viewsDir, versionDirName(v.version), f.file), f.bytes, f.sha256);
      }
    }
  }
  return report;
}
