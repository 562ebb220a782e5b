import { decodeRowKey, finalizeStates, type MeasureStates, plusStates, zeroStates } from '../../schemas/views/index.ts';
import { readMergedRows } from './merge-rows.ts';
import { choosePair, type Provenance, provenance } from './series-query.ts';
import type { QuerySources } from './sources.ts';
import type { TotalsQuery } from './totals-params.ts';

export interface KeyTotal {
  key: string;
  dimensions: Record<string, string>;
  /** Registry meters in this key. */
  meters: number;
  /** Buckets of [from, to) that hold data. */
  buckets: number;
  values: Record<string, number | null>;
}

export interface TotalsResult {
  query: TotalsQuery;
  provenance: Provenance;
  rows: KeyTotal[];
}

/**
 * Totals of many keys over [from, to): per key, every bucket's batch(V) ⊕ speed(V) added with the
 * view's monoid `plus` and finalized once — so derived measures (coverage, mean, peak) are those of
 * the whole range, not sums of per-bucket values. One pair (V, speed(V)) for all keys, chosen as
 * for a series. Ranked: sorted by the measure (nulls last, then by key) and cut to `limit`.
 */
export async function runTotals(sources: QuerySources, q: TotalsQuery): Promise<TotalsResult> {
  const now = (sources.now ?? Date.now)();
  const pair = await choosePair(sources);
  const merged = await readMergedRows(sources, pair, q.view, q.grain, q.keys, q.from, q.to);
  const newestBucket = pair.batch === null ? null : await sources.batch.newestBucket(pair.batch.version, q.view, q.grain);
  const ranked = q.keys.map((key) => {
    const buckets = merged.get(key) ?? new Map<number, MeasureStates>();
    let total = zeroStates(q.view);
    for (const states of buckets.values()) total = plusStates(q.view, total, states);
    const all = buckets.size === 0 ? {} : finalizeStates(q.view, total);
    const values: Record<string, number | null> = {};
    for (const m of q.measures) values[m] = all[m] ?? null;
    const row: KeyTotal = { key, dimensions: decodeRowKey(key), meters: q.meterCounts.get(key) ?? 0, buckets: buckets.size, values };
    return { row, v: q.rank === null ? null : (all[q.rank.by] ?? null) };
  });
  if (q.rank !== null) {
    const sign = q.rank.order === 'desc' ? -1 : 1;
    // Keys without data (null) last whatever the order; ties by key, so the answer is stable.
    ranked.sort(
      (a, b) => (a.v === null ? (b.v === null ? 0 : 1) : b.v === null ? -1 : sign * (a.v - b.v)) || a.row.key.localeCompare(b.row.key),
    );
  }
  const rows = ranked.slice(0, q.rank?.limit ?? ranked.length).map((r) => r.row);
  return { query: q, provenance: provenance(pair.batch, pair.speed, pair.stale, pair.warnings, newestBucket, now), rows };
}
