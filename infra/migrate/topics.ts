import kafkajs, { type Kafka } from 'kafkajs';
import type { Config, TopicConfig } from '../../core/config-schema.ts';
import type { Logger } from '../../core/logger.ts';

// kafkajs is CommonJS: its enums are reached through the default export.
const { ConfigResourceTypes } = kafkajs;

export interface TopicResult {
  name: string;
  action: 'created' | 'unchanged' | 'partitions-added' | 'config-updated';
  partitions: number;
}

/**
 * Creates meterflow's topics, or brings existing ones to the configured partition count (Kafka can
 * only add partitions) and retention/cleanup policy. Running it twice changes nothing.
 */
export async function migrateTopics(kafka: Kafka, config: Config, log: Logger): Promise<TopicResult[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const wanted = Object.values(config.kafka.topics);
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: config.kafka.replicationFactor,
          configEntries: topicConfigEntries(t),
        })),
      });
    }
    const results: TopicResult[] = missing.map((t) => ({ name: t.name, action: 'created', partitions: t.partitions }));

    const present = wanted.filter((t) => existing.has(t.name));
    if (present.length > 0) {
      const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: present.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.name, configNames: ['retention.ms', 'cleanup.policy'] })),
      });
      for (const t of present) {
        const current = metadata.topics.find((m) => m.name === t.name)?.partitions.length ?? 0;
        let action: TopicResult['action'] = 'unchanged';
        if (current < t.partitions) {
          await admin.createPartitions({ topicPartitions: [{ topic: t.name, count: t.partitions }] });
          action = 'partitions-added';
        } else if (current > t.partitions) {
          log.warn(
            { topic: t.name, current, configured: t.partitions },
            'topic has more partitions than configured; Kafka cannot remove partitions, keeping them',
          );
        }
        const entries = described.resources.find((r) => r.resourceName === t.name)?.configEntries ?? [];
        const differs = topicConfigEntries(t).some((e) => entries.find((c) => c.configName === e.name)?.configValue !== e.value);
        if (differs) {
          await admin.alterConfigs({
            validateOnly: false,
            resources: [{ type: ConfigResourceTypes.TOPIC, name: t.name, configEntries: topicConfigEntries(t) }],
          });
          if (action === 'unchanged') action = 'config-updated';
        }
        results.push({ name: t.name, action, partitions: Math.max(current, t.partitions) });
      }
    }
    for (const r of results) log.info({ topic: r.name, action: r.action, partitions: r.partitions }, `topic ${r.name}: ${r.action}`);
    return results;
  } finally {
    await admin.disconnect();
  }
}

function topicConfigEntries(t: TopicConfig): { name: string; value: string }[] {
  return [
    { name: 'retention.ms', value: String(t.retentionMs) },
    { name: 'cleanup.policy', value: t.cleanupPolicy },
  ];
}
