import type { GrainId, ViewDefinition } from '../../schemas/views/index.ts';
import { LoadingCache } from './loading-cache.ts';
import type { BatchSource, BatchVersionInfo, BucketStates, KeyBucketStates } from './sources.ts';

/**
 * A BatchSource whose row reads are kept in memory. A published batch version never changes, so a
 * (version, view, grain, keys, range) read is valid for as long as it is kept: no invalidation,
 * only eviction (least recently used first, bounded by the number of buckets held). The version
 * list is not cached here: the inner source re-reads it, so a new publication is still seen.
 */
export class CachedBatchSource implements BatchSource {
  private readonly rows: LoadingCache<BucketStates[]>;

  constructor(
    private readonly inner: BatchSource,
    maxBuckets: number,
  ) {
    this.rows = new LoadingCache('batch_rows', maxBuckets, (rows) => rows.length + 1);
  }

  versions(): Promise<BatchVersionInfo[]> {
    return this.inner.versions();
  }

  readRows(version: number, view: ViewDefinition, grain: GrainId, key: string, from: number, to: number): Promise<BucketStates[]> {
    return this.rows.get(JSON.stringify([version, view.name, grain, key, from, to]), () =>
      this.inner.readRows(version, view, grain, key, from, to),
    );
  }

  readKeysRows(
    version: number,
    view: ViewDefinition,
    grain: GrainId,
    keys: readonly string[],
    from: number,
    to: number,
  ): Promise<KeyBucketStates[]> {
    return this.rows.get(JSON.stringify([version, view.name, grain, keys, from, to]), () =>
      this.inner.readKeysRows(version, view, grain, keys, from, to),
    ) as Promise<KeyBucketStates[]>;
  }

  newestBucket(version: number, view: ViewDefinition, grain: GrainId): Promise<number | null> {
    return this.inner.newestBucket(version, view, grain);
  }
}
