import { type DuckDBConnection, listValue } from '@duckdb/node-api';
import { MeterflowError } from '../../core/errors.ts';
import { COUNTABLE_READING_SQL } from '../../schemas/views/index.ts';
import type { Range } from './dirty-buckets.ts';

/**
 * The DuckDB side of an incremental run: which event instants the readings that arrived after the
 * previous version change, and the subset of the master dataset that recomputes the dirty buckets.
 *
 * Register reads make the only facts that depend on another reading: a register read's kWh is its
 * value minus the previous read of the same meter and channel (interval-facts.ts). So a changed
 * register read also changes the fact of the NEXT read of its series, and recomputing a window
 * needs, per register series, the last read before the window (its baseline). Both come from
 * `register_instants`, the distinct countable register instants per series, a small table.
 */

/** Per partition, the last offset the previous version covered (B[p]); a partition absent covered nothing. */
export type BaseOffsets = Record<string, number>;

export interface ChangeScan {
  /** Readings in the master dataset after B[p]. */
  newRecords: number;
  /** Distinct interval starts whose facts may differ from the previous version's (changed reads, next register reads). */
  instants: number[];
  /** Meter channels holding both interval and register reads (never seen in real data): the run falls back to full. */
  mixedSeries: number;
}

function intLiteral(n: number): string {
  if (!Number.isSafeInteger(n)) throw new MeterflowError('MF_INTERNAL', `not a safe integer: ${n}`);
  return String(n);
}

async function rowsOf(con: DuckDBConnection, sql: string, files?: readonly string[]): Promise<Record<string, unknown>[]> {
  const reader = await con.runAndReadAll(sql, files === undefined ? undefined : { files: listValue([...files]) });
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

/** Builds `register_instants` over the whole master dataset (every run that is not full needs it). */
export async function createRegisterIndex(con: DuckDBConnection, files: readonly string[]): Promise<void> {
  await con.run(
    `CREATE OR REPLACE TEMP TABLE register_instants AS
     SELECT DISTINCT meter_id, channel, interval_start FROM read_parquet($files)
     WHERE kind = 'register' AND ${COUNTABLE_READING_SQL}`,
    { files: listValue([...files]) },
  );
}

/**
 * The readings after B[p] (read from `newFiles` only: the files whose range ends after B[p]) and
 * the instants they make dirty: their own interval starts, plus for a register read the next
 * register read of its series. Also counts mixed-kind series over the whole master dataset.
 */
export async function scanChanges(
  con: DuckDBConnection,
  allFiles: readonly string[],
  newFiles: readonly string[],
  base: BaseOffsets,
): Promise<ChangeScan> {
  const mixed = await rowsOf(
    con,
    `SELECT count(*) AS n FROM (
       SELECT meter_id, channel FROM read_parquet($files) WHERE ${COUNTABLE_READING_SQL}
       GROUP BY meter_id, channel HAVING count(DISTINCT kind) > 1)`,
    allFiles,
  );
  const mixedSeries = Number(mixed[0]?.n ?? 0);
  if (newFiles.length === 0) return { newRecords: 0, instants: [], mixedSeries };
  const baseRows = Object.entries(base).map(([p, b]) => `(${intLiteral(Number(p))}, ${intLiteral(b)})`);
  await con.run(
    `CREATE OR REPLACE TEMP TABLE new_records AS
     SELECT r.meter_id, r.channel, r.kind, r.interval_start
     FROM read_parquet($files) r
     LEFT JOIN (${baseRows.length > 0 ? `VALUES ${baseRows.join(', ')}` : 'SELECT NULL::INTEGER, NULL::BIGINT WHERE false'}) b(p, last)
       ON b.p = r.kafka_partition
     WHERE r.kafka_offset > coalesce(b.last, -1)`,
    { files: listValue([...newFiles]) },
  );
  const count = await rowsOf(con, 'SELECT count(*) AS n FROM new_records');
  const instants = await rowsOf(
    con,
    `WITH next_reads AS (
       SELECT meter_id, channel, interval_start,
         lead(interval_start) OVER (PARTITION BY meter_id, channel ORDER BY interval_start) AS next_start
       FROM register_instants
     )
     SELECT DISTINCT interval_start AS t FROM new_records
     UNION
     SELECT n.next_start FROM next_reads n
     SEMI JOIN (SELECT DISTINCT meter_id, channel, interval_start FROM new_records WHERE kind = 'register') c
       ON c.meter_id = n.meter_id AND c.channel = n.channel AND c.interval_start = n.interval_start
     WHERE n.next_start IS NOT NULL`,
  );
  return { newRecords: Number(count[0]?.n ?? 0), instants: instants.map((r) => Number(r.t)), mixedSeries };
}

/**
 * `column` inside one of the ranges, as SQL over literal bounds (our own integers, never user
 * text; literals so that Parquet row groups are pruned by their statistics).
 */
export function inRangesSql(windows: readonly Range[], column: string): string {
  if (windows.length === 0) return 'false';
  return windows.map(([lo, hi]) => `(${column} >= ${intLiteral(lo)} AND ${column} < ${intLiteral(hi)})`).join(' OR ');
}

/**
 * `table` = the master readings with an interval start inside `windows`, plus every copy of each
 * register series' last read before each window (the baseline its first read in the window
 * subtracts). Facts computed from it are exact for every instant inside the windows; facts outside
 * them (the baselines' own) are not, and no dirty bucket holds them.
 */
export async function loadScopedReadings(
  con: DuckDBConnection,
  table: string,
  files: readonly string[],
  windows: readonly Range[],
): Promise<number> {
  const starts = windows.map(([lo]) => `(${intLiteral(lo)})`);
  await con.run(
    `CREATE OR REPLACE TEMP TABLE register_baselines AS
     SELECT r.meter_id, r.channel, max(r.interval_start) AS interval_start
     FROM register_instants r JOIN (VALUES ${starts.length > 0 ? starts.join(', ') : '(NULL::BIGINT)'}) w(lo) ON r.interval_start < w.lo
     GROUP BY r.meter_id, r.channel, w.lo`,
  );
  await con.run(
    `CREATE OR REPLACE TABLE ${table} AS
     SELECT * FROM read_parquet($files) WHERE ${inRangesSql(windows, 'interval_start')}
     UNION ALL
     SELECT r.* FROM read_parquet($files) r
     SEMI JOIN (SELECT DISTINCT * FROM register_baselines) b
       ON b.meter_id = r.meter_id AND b.channel = r.channel AND b.interval_start = r.interval_start
     WHERE NOT (${inRangesSql(windows, 'r.interval_start')})`,
    { files: listValue([...files]) },
  );
  const n = await rowsOf(con, `SELECT count(*) AS n FROM ${table}`);
  return Number(n[0]?.n ?? 0);
}
