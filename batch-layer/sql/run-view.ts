import { type DuckDBConnection, type DuckDBValue, listValue } from '@duckdb/node-api';
import { MeterflowError } from '../../core/errors.ts';
import type { GrainId, MeasureState, ViewDefinition, ViewRow } from '../../schemas/views/index.ts';
import { type CompiledQuery, hasSeparateState, stateColumnName } from './compile-view.ts';

/** Runs a compiled view query with its parameters bound (never interpolated). */
export async function runCompiled(connection: DuckDBConnection, query: CompiledQuery): Promise<Record<string, unknown>[]> {
  const values: Record<string, DuckDBValue> = {};
  for (const [name, list] of Object.entries(query.params)) values[name] = listValue([...list]);
  const reader = await connection.runAndReadAll(query.sql, Object.keys(values).length > 0 ? values : undefined);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

/**
 * Rows of a compiled view query as ViewRows, the shape every path produces. Values are read from
 * the SQL's own finalized and derived columns (not recomputed here), so the law suite checks the
 * SQL forms of finalize and of derived measures too.
 */
export async function readViewRows(
  connection: DuckDBConnection,
  view: ViewDefinition,
  grain: GrainId,
  query: CompiledQuery,
): Promise<ViewRow[]> {
  const rows = await runCompiled(connection, query);
  return rows.map((row) => {
    const states: Record<string, MeasureState> = {};
    for (const m of view.monoidMeasures) {
      const raw = row[stateColumnName(m)];
      states[m.name] = hasSeparateState(m) ? weightedSetFromSql(raw) : toNumberOrNull(raw);
    }
    const values: Record<string, number | null> = {};
    for (const m of view.measures) values[m.name] = toNumberOrNull(row[m.name]);
    return { view: view.name, grain, key: String(row.row_key), bucket: Number(row.bucket), states, values };
  });
}

function toNumberOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new MeterflowError('MF_INTERNAL', `expected a number from DuckDB, got ${typeof v}`);
}

/** LIST(STRUCT(member, n)) → { member: n }. */
function weightedSetFromSql(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!Array.isArray(v)) return out;
  for (const e of v as { member: string; n: number }[]) out[e.member] = Math.max(out[e.member] ?? Number.NEGATIVE_INFINITY, Number(e.n));
  return out;
}
