import { randomUUID } from 'node:crypto';
import type { Config } from '../../core/config.ts';
import { createKafka } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { migrateTopics } from '../../infra/migrate/topics.ts';

const log = createLogger('test-kafka', 'warn');

/**
 * A config whose readings, dead-letter and view-change topics are new and empty, created on the
 * real broker: a test can count exactly what it produced, whatever other tests wrote.
 */
export async function withFreshTopics(config: Config, partitions = 3): Promise<Config> {
  const id = randomUUID().slice(0, 8);
  const fresh: Config = {
    ...config,
    kafka: {
      ...config.kafka,
      topics: {
        readings: { ...config.kafka.topics.readings, name: `test.readings.${id}`, partitions },
        deadLetters: { ...config.kafka.topics.deadLetters, name: `test.dead-letters.${id}`, partitions: 1 },
        viewChanges: { ...config.kafka.topics.viewChanges, name: `test.view-changes.${id}`, partitions },
      },
    },
  };
  await migrateTopics(createKafka(fresh, log), fresh, log);
  return fresh;
}

/** Messages on a topic that started empty: the sum of its partitions' high watermarks. */
export async function topicMessageCount(config: Config, topic: string): Promise<number> {
  const admin = createKafka(config, log).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

export interface ConsumedMessage {
  key: string | null;
  value: Buffer;
  partition: number;
  offset: string;
  headers: Record<string, string>;
}

/** Reads a topic from the beginning until `expected` messages arrived (or fails after the timeout). */
export async function consumeAll(config: Config, topic: string, expected: number, timeoutMs = 60_000): Promise<ConsumedMessage[]> {
  const consumer = createKafka(config, log).consumer({ groupId: `test-${randomUUID()}`, maxBytes: 20 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: ConsumedMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${out.length} of ${expected} messages arrived on ${topic}`)), timeoutMs);
      if (expected === 0) {
        clearTimeout(timer);
        resolve();
        return;
      }
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
              out.push({
                key: m.key ? m.key.toString() : null,
                value: m.value as Buffer,
                partition: batch.partition,
                offset: m.offset,
                headers,
              });
            }
            if (out.length >= expected) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}
