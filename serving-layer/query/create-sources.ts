import { layoutFor } from '../../batch-layer/layout.ts';
import type { CassandraClient } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { CachedBatchSource } from './cached-batch-source.ts';
import { CassandraSpeedSource } from './cassandra-speed-source.ts';
import { DuckDbBatchSource } from './duckdb-batch-source.ts';
import { LoadingCache } from './loading-cache.ts';
import { mergedSize } from './merge-rows.ts';
import type { CachedMerge, QuerySources } from './sources.ts';

/**
 * The production sources: the batch folder of `batch.dataDir` and the speed tables of
 * `cassandra.keyspace`, behind the query caches of `serving.cache` (none when maxBuckets is 0).
 * `partitions`: the readings topic's partition count as Kafka reports it (config's is the default).
 */
export function createQuerySources(
  config: Config,
  cassandra: CassandraClient,
  options: { speedTimeoutMs?: number; partitions?: number } = {},
): QuerySources & { close(): void } {
  const duckdb = new DuckDbBatchSource(layoutFor(config));
  const { maxBuckets, checkpointMaxAgeMs } = config.serving.cache;
  const batch = maxBuckets > 0 ? new CachedBatchSource(duckdb, maxBuckets) : duckdb;
  return {
    batch,
    speed: new CassandraSpeedSource(cassandra, checkpointMaxAgeMs),
    partitions: options.partitions ?? config.kafka.topics.readings.partitions,
    ...(maxBuckets > 0 ? { mergedCache: new LoadingCache<CachedMerge>('merged', maxBuckets, mergedSize) } : {}),
    ...(options.speedTimeoutMs === undefined ? {} : { speedTimeoutMs: options.speedTimeoutMs }),
    close: () => duckdb.close(),
  };
}
