import { checkCassandraReachable, createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { checkKafkaReachable, createKafka } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { keyspaceCql, type MigrationResult, migrateCql } from './cql.ts';
import { migrateTopics, type TopicResult } from './topics.ts';

export interface MigrateResult {
  topics: TopicResult[];
  cql: MigrationResult[];
}

/** `meterflow migrate`: Kafka topics, then the Cassandra keyspace and tables. Idempotent. */
export async function migrate(config: Config, log: Logger): Promise<MigrateResult> {
  // Fail fast, naming the unreachable cluster, before doing anything.
  await Promise.all([checkKafkaReachable(config, log), checkCassandraReachable(config)]);
  const topics = await migrateTopics(createKafka(config, log), config, log);
  const admin = createCassandra(config, { keyspace: false });
  try {
    await admin.execute(keyspaceCql(config));
  } finally {
    await admin.shutdown();
  }
  const client = createCassandra(config);
  try {
    const cql = await migrateCql(client, config, log);
    return { topics, cql };
  } finally {
    await client.shutdown();
  }
}
