import { layoutFor } from '../../batch-layer/layout.ts';
import type { CassandraClient } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { CassandraSpeedSource } from './cassandra-speed-source.ts';
import { DuckDbBatchSource } from './duckdb-batch-source.ts';
import type { QuerySources } from './sources.ts';

/** The production sources: the batch folder of `batch.dataDir` and the speed tables of `cassandra.keyspace`. */
export function createQuerySources(
  config: Config,
  cassandra: CassandraClient,
  options: { speedTimeoutMs?: number } = {},
): QuerySources & { close(): void } {
  const batch = new DuckDbBatchSource(layoutFor(config));
  return {
    batch,
    speed: new CassandraSpeedSource(cassandra),
    partitions: config.kafka.topics.readings.partitions,
    ...(options.speedTimeoutMs === undefined ? {} : { speedTimeoutMs: options.speedTimeoutMs }),
    close: () => batch.close(),
  };
}
