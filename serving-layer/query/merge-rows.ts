import { type GrainId, type MeasureStates, plusStates, type ViewDefinition, zeroStates } from '../../schemas/views/index.ts';
import { periodsBetween } from '../../speed-layer/store/speed-store.ts';
import type { ServedPair } from './series-query.ts';
import { DEFAULT_SPEED_TIMEOUT_MS, unreachable, withTimeout } from './series-query.ts';
import type { CachedMerge, QuerySources } from './sources.ts';

/**
 * The checkpoint read is the liveness test and gets the short timeout. Once it answered, Cassandra
 * is up, so the row read (which can span many partition periods) gets more.
 */
const ROWS_TIMEOUT_FACTOR = 5;
const PER_PERIOD_MS = 25;
/** Keys read from Cassandra at once (each key's periods are read concurrently by the source too). */
const KEY_CONCURRENCY = 4;

/** key → bucket → batch(V) ⊕ speed(V) states. */
export type MergedRows = Map<string, Map<number, MeasureStates>>;

/**
 * Reads the rows of `keys` over [from, to) from the chosen pair and adds every piece with the
 * view's monoid `plus`. Speed rows that cannot be read in time drop the speed part (the pair is
 * updated in place: `speed: null`, `stale: true`, a warning), or fail with 503 when there is no
 * batch part to answer from.
 *
 * With `sources.mergedCache`, the merge is kept under the pair's identity: the batch version (never
 * changes once published), the speed generation and every partition's checkpoint. Until the speed
 * layer writes a new checkpoint, the same question has the same answer, so it is served from memory;
 * the first checkpoint that moves makes a new key. A merge whose speed part was dropped is not kept.
 */
export async function readMergedRows(
  sources: QuerySources,
  pair: ServedPair,
  view: ViewDefinition,
  grain: GrainId,
  keys: readonly string[],
  from: number,
  to: number,
): Promise<MergedRows> {
  const cache = sources.mergedCache;
  if (cache === undefined) return applyDrop(pair, await mergeFromSources(sources, pair, { view, grain, keys, from, to }));
  const id = JSON.stringify([pairIdentity(pair), view.name, grain, keys, from, to]);
  const merged = await cache.get(
    id,
    () => mergeFromSources(sources, pair, { view, grain, keys, from, to }),
    (m) => m.speedDropped === null,
  );
  return applyDrop(pair, merged);
}

/** What makes two pairs answer alike: the batch version, the speed generation and its checkpoints. */
function pairIdentity(pair: ServedPair): string {
  const checkpoints =
    pair.speed === null
      ? 'none'
      : [...pair.speed.checkpoints]
          .sort((a, b) => a.partition - b.partition)
          .map((c) => `${c.partition}:${c.throughOffset}:${c.caughtUp ? 1 : 0}`)
          .join(',');
  return `b${pair.batch?.version ?? 0}|g${pair.speed?.generation ?? 'none'}|${checkpoints}`;
}

function applyDrop(pair: ServedPair, merged: CachedMerge): MergedRows {
  if (merged.speedDropped !== null && pair.speed !== null) {
    pair.speed = null;
    pair.stale = true;
    pair.warnings.push(merged.speedDropped);
  }
  return merged.rows;
}

async function mergeFromSources(
  sources: QuerySources,
  pair: ServedPair,
  { view, grain, keys, from, to }: { view: ViewDefinition; grain: GrainId; keys: readonly string[]; from: number; to: number },
): Promise<CachedMerge> {
  const merged: MergedRows = new Map(keys.map((k) => [k, new Map()]));
  const add = (key: string, bucket: number, states: MeasureStates) => {
    const row = merged.get(key);
    if (row !== undefined) row.set(bucket, plusStates(view, row.get(bucket) ?? zeroStates(view), states));
  };
  const speed = pair.speed;
  let speedDropped: string | null = null;
  const timeoutMs = sources.speedTimeoutMs ?? DEFAULT_SPEED_TIMEOUT_MS;
  const periods = periodsBetween(grain, from, to).length;
  const speedRows =
    speed === null
      ? []
      : await withTimeout(
          mapConcurrently(keys, KEY_CONCURRENCY, async (key) =>
            (await sources.speed.readRows(view.name, speed.generation, key, grain, from, to)).map((r) => ({ ...r, key })),
          ),
          ROWS_TIMEOUT_FACTOR * timeoutMs + PER_PERIOD_MS * periods * Math.ceil(keys.length / KEY_CONCURRENCY),
          'reading the speed rows',
        ).catch((err: unknown) => {
          const batch = pair.batch;
          if (batch === null) throw unreachable(err);
          speedDropped = `speed rows unreadable (${(err as Error).message}); answered from batch version ${batch.version} alone`;
          return [];
        });
  const batch = pair.batch;
  if (batch !== null) {
    // One key: the series path's single-key read; several: one query with the key list bound.
    const rows =
      keys.length === 1
        ? (await sources.batch.readRows(batch.version, view, grain, keys[0] as string, from, to)).map((r) => ({
            ...r,
            key: keys[0] as string,
          }))
        : await sources.batch.readKeysRows(batch.version, view, grain, keys, from, to);
    for (const r of rows) add(r.key, r.bucket, r.states);
  }
  for (const r of speedRows.flat()) add(r.key, r.bucket, r.states);
  return { rows: merged, speedDropped };
}

/** Buckets held by a merge: what the merged cache's budget counts. */
export function mergedSize(merged: CachedMerge): number {
  let n = 1;
  for (const row of merged.rows.values()) n += row.size;
  return n;
}

async function mapConcurrently<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
