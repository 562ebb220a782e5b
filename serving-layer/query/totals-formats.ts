import { Float64, Int32, Table, tableToIPC, Utf8, type Vector, vectorFromArray } from 'apache-arrow';
import { formatNumber, provenanceJson } from './series-formats.ts';
import type { TotalsResult } from './totals-query.ts';

/** The JSON body of /top and /keys (serialized through the route's response schema). */
export function totalsJson(r: TotalsResult) {
  const q = r.query;
  return {
    view: q.view.name,
    grain: q.grain,
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    parent: q.parent === null ? null : `${q.parent.dimension}=${q.parent.value}`,
    by: q.rank?.by ?? null,
    order: q.rank?.order ?? null,
    measures: q.measures,
    provenance: provenanceJson(r.provenance, q.grain),
    rows: r.rows,
  };
}

/** `key,meters,buckets,<measures…>`; a key with a comma or quote is quoted. */
export function totalsCsv(r: TotalsResult): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const lines = [['key', 'meters', 'buckets', ...r.query.measures].join(',')];
  for (const row of r.rows)
    lines.push(
      [quote(row.key), String(row.meters), String(row.buckets), ...r.query.measures.map((m) => formatNumber(row.values[m] ?? null))].join(
        ',',
      ),
    );
  return `${lines.join('\n')}\n`;
}

/**
 * Arrow IPC stream, rows in the answer's order: key (utf8), one utf8 column per dimension of the
 * view, meters and buckets (int32), one float64 per measure; provenance in the schema metadata.
 */
export function totalsArrow(r: TotalsResult): Uint8Array {
  const columns: Record<string, Vector> = {
    key: vectorFromArray(
      r.rows.map((row) => row.key),
      new Utf8(),
    ),
  };
  for (const d of r.query.view.dimensions) {
    columns[d] = vectorFromArray(
      r.rows.map((row) => row.dimensions[d] ?? null),
      new Utf8(),
    );
  }
  columns.meters = vectorFromArray(
    r.rows.map((row) => row.meters),
    new Int32(),
  );
  columns.buckets = vectorFromArray(
    r.rows.map((row) => row.buckets),
    new Int32(),
  );
  for (const m of r.query.measures) {
    columns[m] = vectorFromArray(
      r.rows.map((row) => row.values[m] ?? null),
      new Float64(),
    );
  }
  const table = new Table(columns);
  table.schema.metadata.set('meterflow.provenance', JSON.stringify(r.provenance));
  return tableToIPC(table, 'stream');
}
