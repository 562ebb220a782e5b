import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { GrainId, ViewDefinition } from '../../schemas/views/index.ts';
import type { BatchLayout } from '../layout.ts';
import { quoteIdent, sqlString } from '../sql/sql-text.ts';
import type { VersionManifest } from './versions.ts';

/** One bucket whose published answer differs between two versions. */
export interface BucketChange {
  view: string;
  grain: GrainId;
  rowKey: string;
  bucket: number;
  /** The new finalized values (finite only); empty when the bucket is gone from the new version. */
  measures: Record<string, number>;
  removed: boolean;
}

/**
 * The buckets of one view and grain whose values differ between `previous` (undefined: every
 * bucket is new) and `current`, read from the two versions' Parquet files with one DuckDB full
 * outer join, streamed chunk by chunk so a large version never sits in memory.
 */
export async function* diffVersions(
  con: DuckDBConnection,
  layout: BatchLayout,
  view: ViewDefinition,
  grain: GrainId,
  current: VersionManifest,
  previous: VersionManifest | undefined,
  tolerance: number,
): AsyncGenerator<BucketChange[]> {
  const file = (m: VersionManifest) => {
    const f = m.views[view.name]?.[grain];
    return f === undefined ? undefined : join(layout.viewsDir, `v${m.version}`, f.file);
  };
  const now = file(current);
  if (now === undefined) return;
  const before = previous === undefined ? undefined : file(previous);
  const names = view.measures.map((m) => m.name);
  const newValues = names.map((n) => `n.${quoteIdent(n)} AS ${quoteIdent(n)}`).join(', ');
  // Paths are ours (version folders), not user input; quoted as SQL strings all the same.
  const sql =
    before === undefined
      ? `SELECT row_key, bucket, false AS removed, ${names.map(quoteIdent).join(', ')} FROM read_parquet(${sqlString(now)}) n`
      : `SELECT coalesce(n.row_key, o.row_key) AS row_key, coalesce(n.bucket, o.bucket) AS bucket, n.row_key IS NULL AS removed, ${newValues}
         FROM read_parquet(${sqlString(now)}) n
         FULL OUTER JOIN read_parquet(${sqlString(before)}) o ON n.row_key = o.row_key AND n.bucket = o.bucket
         WHERE n.row_key IS NULL OR o.row_key IS NULL OR ${names
           .map((n) => {
             const a = `n.${quoteIdent(n)}`;
             const b = `o.${quoteIdent(n)}`;
             return `(${a} IS NULL) <> (${b} IS NULL) OR abs(${a} - ${b}) > ${tolerance} * greatest(1, abs(${b}))`;
           })
           .join(' OR ')}`;
  const result = await con.stream(`${sql} ORDER BY row_key, bucket`);
  for await (const rows of result.yieldRowObjectJs()) {
    yield rows.map((r) => {
      const measures: Record<string, number> = {};
      if (r.removed !== true) {
        for (const n of names) {
          const v = r[n];
          const x = typeof v === 'bigint' ? Number(v) : v;
          if (typeof x === 'number' && Number.isFinite(x)) measures[n] = x;
        }
      }
      return { view: view.name, grain, rowKey: String(r.row_key), bucket: Number(r.bucket), measures, removed: r.removed === true };
    });
  }
}
