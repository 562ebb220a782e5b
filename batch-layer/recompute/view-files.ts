import { copyFile, link, stat } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sha256File } from '../layout.ts';
import { sqlString } from '../sql/sql-text.ts';
import type { Range } from './dirty-buckets.ts';
import { inRangesSql } from './incremental-scope.ts';
import type { VersionFile } from './versions.ts';

/**
 * Writing one (view, grain) file of a version: all of it from the compiled query (full run), or
 * the previous version's rows outside the dirty buckets plus the query's rows inside them
 * (incremental run), or a hard link to the previous file when no bucket of the grain is dirty.
 * Every path writes rows ordered by (row_key, bucket), so equal content gives equal files.
 */
const PARQUET = '(FORMAT parquet, COMPRESSION zstd)';

async function describe(path: string, rel: string, rows: number, started: number): Promise<VersionFile> {
  return { file: rel, rows, bytes: (await stat(path)).size, sha256: await sha256File(path), ms: Date.now() - started };
}

export async function writeFullViewFile(con: DuckDBConnection, sql: string, path: string, rel: string): Promise<VersionFile> {
  const started = Date.now();
  const copied = await con.runAndReadAll(`COPY (${sql}\n) TO ${sqlString(path)} ${PARQUET}`);
  return describe(path, rel, Number(copied.getRowObjectsJS()[0]?.Count ?? 0), started);
}

export async function writeMergedViewFile(
  con: DuckDBConnection,
  sql: string,
  dirty: readonly Range[],
  previous: { path: string; entry: VersionFile },
  path: string,
  rel: string,
): Promise<VersionFile> {
  const started = Date.now();
  if (dirty.length === 0) {
    await link(previous.path, path).catch(() => copyFile(previous.path, path));
    return { ...previous.entry, file: rel, ms: Date.now() - started, recomputedRows: 0, carriedRows: previous.entry.rows };
  }
  const inDirty = inRangesSql(dirty, 'bucket');
  await con.run(`CREATE OR REPLACE TEMP TABLE fresh_rows AS SELECT * FROM (${sql}\n) WHERE ${inDirty}`);
  const recomputed = Number((await con.runAndReadAll('SELECT count(*) AS n FROM fresh_rows')).getRowObjectsJS()[0]?.n ?? 0);
  // The previous file's rows read back through Parquet and the fresh rows cast to the same column
  // types by UNION ALL: the written types are those a full run writes (Parquet's own).
  const copied = await con.runAndReadAll(
    `COPY (SELECT * FROM (
       SELECT * FROM read_parquet(${sqlString(previous.path)}) WHERE NOT (${inDirty})
       UNION ALL
       SELECT * FROM fresh_rows
     ) ORDER BY row_key, bucket) TO ${sqlString(path)} ${PARQUET}`,
  );
  await con.run('DROP TABLE fresh_rows');
  const rows = Number(copied.getRowObjectsJS()[0]?.Count ?? 0);
  return { ...(await describe(path, rel, rows, started)), recomputedRows: recomputed, carriedRows: rows - recomputed };
}
