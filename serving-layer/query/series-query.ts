import { MeterflowError } from '../../core/errors.ts';
import { speedStartOffset } from '../../schemas/generation.ts';
import { finalizeStates, type MeasureStates } from '../../schemas/views/index.ts';
import { readMergedRows } from './merge-rows.ts';
import { bucketLabel, type SeriesQuery } from './series-params.ts';
import type { BatchVersionInfo, QuerySources, SpeedCheckpointInfo } from './sources.ts';

export interface SeriesBucket {
  bucket: number;
  /** The bucket as the answers write it (bucketLabel: ISO instant, or the local date). */
  label: string;
  /** Newer than the batch coverage (the batch view's newest bucket or later, or no batch): may still change. */
  provisional: boolean;
  values: Record<string, number | null>;
}

export interface SpeedPartitionProvenance {
  partition: number;
  /** Offsets fromOffset..throughOffset of the partition are in the speed part (B[p] + 1 onwards). */
  fromOffset: number;
  throughOffset: number;
  caughtUp: boolean;
  updatedAt: string | null;
}

export interface Provenance {
  /** The batch version answered from; 0: no batch part. */
  batchVersion: number;
  /** The speed generation answered from; null: no speed part. */
  speedGeneration: number | null;
  /** True when part of the accepted readings is knowingly missing (speed unreachable or not caught up). */
  stale: boolean;
  warnings: string[];
  batch: { version: number; offsets: Record<string, number>; createdAt: string; dataAsOf: string; newestBucket: number | null } | null;
  speed: { generation: number; partitions: SpeedPartitionProvenance[] } | null;
  /** When the newest included data was written (newest speed checkpoint, else the batch snapshot). */
  asOf: string | null;
  /** now − asOf, in ms. */
  freshnessMs: number | null;
}

export interface SeriesResult {
  query: SeriesQuery;
  provenance: Provenance;
  buckets: SeriesBucket[];
}

export const DEFAULT_SPEED_TIMEOUT_MS = 2_000;

/**
 * batch(V) ⊕ speed(V) for every bucket of [from, to) (DESIGN.md "merge by offset"):
 * - V = the newest published batch version whose speed generation is caught up on every readings
 *   partition (CURRENT first, then older complete versions, then generation 0 = speed alone);
 *   a batch version and a speed generation are never mixed;
 * - speed unreachable (or slower than the timeout): batch(CURRENT) alone, `stale: true`;
 * - no generation caught up: batch(CURRENT) alone, or with no batch the partial speed(0), `stale: true`.
 */
export async function runSeries(sources: QuerySources, q: SeriesQuery): Promise<SeriesResult> {
  const now = (sources.now ?? Date.now)();
  const pair = await choosePair(sources);
  const rows = (await readMergedRows(sources, pair, q.view, q.grain, [q.key], q.from, q.to)).get(q.key) as Map<number, MeasureStates>;
  const { batch, speed, stale, warnings } = pair;
  const newestBucket = batch === null ? null : await sources.batch.newestBucket(batch.version, q.view, q.grain);

  const buckets = finalizedBuckets(rows, q, newestBucket);
  return { query: q, provenance: provenance(batch, speed, stale, warnings, newestBucket, now), buckets };
}

/**
 * Finalized buckets per merged row map: a map that came from the merged cache is the same object for
 * every request of one (pair, query), so its finalized buckets are computed once, not per request
 * (finalizing and labelling dominate a cached answer's cost). Held weakly: gone with the map.
 */
const finalized = new WeakMap<Map<number, MeasureStates>, Map<string, SeriesBucket[]>>();

function finalizedBuckets(rows: Map<number, MeasureStates>, q: SeriesQuery, newestBucket: number | null): SeriesBucket[] {
  const id = `${q.view.name}|${q.grain}|${newestBucket}|${q.measures.join(',')}`;
  let byQuery = finalized.get(rows);
  const hit = byQuery?.get(id);
  if (hit !== undefined) return hit;
  const buckets = [...rows.keys()]
    .sort((a, b) => a - b)
    .map((bucket) => {
      const all = finalizeStates(q.view, rows.get(bucket) as MeasureStates);
      const values: Record<string, number | null> = {};
      for (const m of q.measures) values[m] = all[m] ?? null;
      return { bucket, label: bucketLabel(q.grain, bucket), provisional: newestBucket === null || bucket >= newestBucket, values };
    });
  if (byQuery === undefined) {
    byQuery = new Map();
    finalized.set(rows, byQuery);
  }
  byQuery.set(id, buckets);
  return buckets;
}

export interface ServedPair {
  /** The batch part (null: none). */
  batch: BatchVersionInfo | null;
  /** The speed part (null: none: unreachable or not caught up). */
  speed: { generation: number; checkpoints: SpeedCheckpointInfo[] } | null;
  stale: boolean;
  warnings: string[];
}

/**
 * Which batch version and speed generation answer a query (module comment above): one choice per
 * request, shared by every route that merges, so no answer mixes two versions.
 */
export async function choosePair(sources: QuerySources): Promise<ServedPair> {
  const timeoutMs = sources.speedTimeoutMs ?? DEFAULT_SPEED_TIMEOUT_MS;
  const versions = await sources.batch.versions();
  const current = versions[0] ?? null;
  const warnings: string[] = [];

  let batch: BatchVersionInfo | null = current;
  let speed: { generation: number; checkpoints: SpeedCheckpointInfo[] } | null = null;
  let stale = false;
  const pending: string[] = [];
  try {
    for (const candidate of [...versions, null]) {
      const generation = candidate?.version ?? 0;
      const checkpoints = await withTimeout(sources.speed.checkpoints(generation), timeoutMs, 'reading the speed checkpoints');
      if (caughtUpEverywhere(checkpoints, sources.partitions)) {
        batch = candidate;
        speed = { generation, checkpoints };
        break;
      }
      pending.push(`${generation} (${describeLag(checkpoints, sources.partitions)})`);
      if (candidate === null && current === null) speed = { generation: 0, checkpoints };
    }
    if (speed !== null && pending.length > 0 && batch !== null && batch.version !== current?.version) {
      warnings.push(
        `batch version ${current?.version} is published but its speed generation is not caught up yet (${pending.join('; ')}); answered from version ${batch.version} and its speed generation`,
      );
    } else if (speed !== null && batch === null && current !== null) {
      warnings.push(
        `no batch version's speed generation is caught up yet (${pending.join('; ')}); answered from generation 0 (speed alone, no batch)`,
      );
    } else if (speed === null) {
      stale = true;
      warnings.push(
        `the speed layer has not caught up on generation ${current?.version} (${pending[0]}); answered from batch version ${current?.version} alone: readings after its offsets are missing`,
      );
    } else if (pending.length > 0) {
      stale = true;
      warnings.push(
        `no batch version yet and the speed layer is still catching up (generation ${pending[0]}): some accepted readings are missing`,
      );
    }
  } catch (err) {
    if (current === null) throw unreachable(err);
    ({ batch, speed, stale } = { batch: current, speed: null, stale: true });
    warnings.length = 0;
    warnings.push(
      `speed layer unreachable (${(err as Error).message}); answered from batch version ${current.version} alone: readings after its offsets are missing`,
    );
  }
  return { batch, speed, stale, warnings };
}

export function provenance(
  batch: BatchVersionInfo | null,
  speed: { generation: number; checkpoints: SpeedCheckpointInfo[] } | null,
  stale: boolean,
  warnings: string[],
  newestBucket: number | null,
  now: number,
): Provenance {
  const times: number[] = [];
  if (batch !== null && Number.isFinite(Date.parse(batch.dataAsOf))) times.push(Date.parse(batch.dataAsOf));
  for (const c of speed?.checkpoints ?? []) if (c.updatedAt !== null) times.push(c.updatedAt);
  const asOf = times.length > 0 ? Math.max(...times) : null;
  if (batch === null && speed === null) warnings.push('no batch version and no speed data: nothing to answer from');
  return {
    batchVersion: batch?.version ?? 0,
    speedGeneration: speed?.generation ?? null,
    stale,
    warnings,
    batch:
      batch === null
        ? null
        : {
            version: batch.version,
            offsets: Object.fromEntries(Object.entries(batch.offsets).map(([p, o]) => [String(p), o])),
            createdAt: batch.createdAt,
            dataAsOf: batch.dataAsOf,
            newestBucket,
          },
    speed:
      speed === null
        ? null
        : {
            generation: speed.generation,
            partitions: [...speed.checkpoints]
              .sort((a, b) => a.partition - b.partition)
              .map((c) => ({
                partition: c.partition,
                fromOffset: speedStartOffset(
                  { generation: speed?.generation ?? 0, offsets: batch?.offsets ?? {}, publishedAt: 0 },
                  c.partition,
                ),
                throughOffset: c.throughOffset,
                caughtUp: c.caughtUp,
                updatedAt: c.updatedAt === null ? null : new Date(c.updatedAt).toISOString(),
              })),
          },
    asOf: asOf === null ? null : new Date(asOf).toISOString(),
    freshnessMs: asOf === null ? null : Math.max(0, now - asOf),
  };
}

function caughtUpEverywhere(checkpoints: SpeedCheckpointInfo[], partitions: number): boolean {
  for (let p = 0; p < partitions; p++) if (checkpoints.find((c) => c.partition === p)?.caughtUp !== true) return false;
  return true;
}

function describeLag(checkpoints: SpeedCheckpointInfo[], partitions: number): string {
  const lagging: number[] = [];
  for (let p = 0; p < partitions; p++) if (checkpoints.find((c) => c.partition === p)?.caughtUp !== true) lagging.push(p);
  return `partitions not caught up: ${lagging.join(', ')}`;
}

export function unreachable(cause: unknown): MeterflowError {
  return new MeterflowError(
    'MF_CASSANDRA_UNREACHABLE',
    `the speed views are unreachable and no batch version is published, so there is nothing to answer from: ${(cause as Error).message}`,
    { cause },
  );
}

export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  work.catch(() => {});
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
