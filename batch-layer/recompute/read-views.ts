import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { MeterflowError } from '../../core/errors.ts';
import type { GrainId, ViewDefinition, ViewRow } from '../../schemas/views/index.ts';
import { type BatchLayout, versionDirName } from '../layout.ts';
import { readViewRows } from '../sql/index.ts';
import { readCurrentVersion, readVersionManifest } from './versions.ts';

/** The Parquet file of a view at a grain in a complete version. */
export async function versionViewFile(layout: BatchLayout, version: number, view: ViewDefinition, grain: GrainId): Promise<string> {
  const manifest = await readVersionManifest(layout, version);
  const entry = manifest?.views[view.name]?.[grain];
  if (entry === undefined) {
    throw new MeterflowError('MF_BATCH_VERSION_UNKNOWN', `batch version ${version} has no ${view.name} at grain ${grain}`);
  }
  return join(layout.viewsDir, versionDirName(version), entry.file);
}

/** Rows of a batch view (the current version unless one is named), as ViewRows with mergeable states. */
export async function readBatchViewRows(
  connection: DuckDBConnection,
  layout: BatchLayout,
  view: ViewDefinition,
  grain: GrainId,
  version?: number,
): Promise<{ version: number; rows: ViewRow[] }> {
  const v = version ?? (await readCurrentVersion(layout));
  if (v === undefined) throw new MeterflowError('MF_BATCH_NO_DATA', `no batch version published in ${layout.viewsDir}`);
  const file = await versionViewFile(layout, v, view, grain);
  const rows = await readViewRows(connection, view, grain, {
    sql: 'SELECT * FROM read_parquet($files) ORDER BY row_key, bucket',
    params: { files: [file] },
  });
  return { version: v, rows };
}
