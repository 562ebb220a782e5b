import { type DuckDBConnection, listValue } from '@duckdb/node-api';
import { expect } from 'vitest';

// What the query API must answer for replayed LCL files, computed independently: DuckDB straight
// over the CSVs.

/** Per UTC day, import kWh straight from the CSV files (duplicates counted once), summed over the files' meters. */
export async function duckdbDaily(con: DuckDBConnection, files: string[]): Promise<Map<string, number>> {
  const reader = await con.runAndReadAll(
    `WITH raw AS (
      SELECT trim(LCLid) AS id, CAST(tstp AS TIMESTAMP) AS ts, TRY_CAST(trim("energy(kWh/hh)") AS DOUBLE) AS kwh
      FROM read_csv($files, header = true, all_varchar = true)
    ), dedup AS (SELECT DISTINCT id, ts, kwh FROM raw WHERE kwh IS NOT NULL)
    SELECT strftime(date_trunc('day', ts), '%Y-%m-%d') AS day, sum(kwh) AS kwh FROM dedup GROUP BY ALL`,
    { files: listValue(files) },
  );
  return new Map(reader.getRowObjects().map((r) => [String(r.day), Number(r.kwh)]));
}

export interface SeriesBody {
  buckets: { bucket: string; provisional: boolean; values: { importKwh: number } }[];
  provenance: {
    batchVersion: number;
    speedGeneration: number | null;
    stale: boolean;
    warnings: string[];
    batch: { offsets: Record<string, number>; newestBucket: string | null } | null;
    speed: { partitions: { partition: number; fromOffset: number; throughOffset: number; caughtUp: boolean }[] } | null;
    freshnessMs: number | null;
  };
}

/**
 * The speed layer writes a flush's checkpoint before its rows, so "caught up" can be read a moment
 * before the last rows land: poll until the assertion holds (or give up after `ms`).
 */
export async function eventually<T>(fn: () => Promise<T>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export function expectSameDays(body: SeriesBody, expected: Map<string, number>): void {
  const actual = new Map(body.buckets.map((b) => [b.bucket.slice(0, 10), b.values.importKwh]));
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [day, kwh] of expected) expect(Math.abs((actual.get(day) ?? Number.NaN) - kwh), day).toBeLessThan(1e-6);
}
