import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Consumer } from 'kafkajs';
import type { Config } from '../../core/config.ts';
import type { Kafka } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { decodeViewChange } from '../../schemas/avro/codec.ts';
import { type Dimension, encodeRowKey, viewByName } from '../../schemas/views/index.ts';
import type { LiveEvent, LiveHub } from './live-hub.ts';

/** Dead letters counted by their `reason` header since the topic's oldest retained message. */
export class DeadLetterCounts {
  readonly byReason = new Map<string, number>();
  total = 0;

  add(reason: string): void {
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    this.total++;
  }
}

export interface TopicFeed {
  hub: LiveHub;
  deadLetters: DeadLetterCounts;
  /** Resolves once the consumer has joined its group (events produced after that are delivered). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * The serving process's one Kafka consumer. Its group id is unique per process, so every API
 * process sees every event (a shared group would split them). It reads:
 * - the view-changes topic from the latest offset, fanning each change out through the hub (a
 *   client that connects later wants changes from now on, not the compacted history);
 * - the dead-letter topic from the beginning, counting reasons from the `reason` header without
 *   decoding the payload.
 */
export async function startTopicFeed(config: Config, kafka: Kafka, hub: LiveHub, log: Logger): Promise<TopicFeed> {
  const consumer: Consumer = kafka.consumer({
    groupId: `meterflow-serve-live-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    // Nothing to resume: the group is new at every start.
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
  });
  const deadLetters = new DeadLetterCounts();
  const topics = config.kafka.topics;
  let joined: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    joined = resolve;
  });
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.viewChanges.name], fromBeginning: false });
  await consumer.subscribe({ topics: [topics.deadLetters.name], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, message }) => {
      if (topic === topics.deadLetters.name) {
        deadLetters.add(message.headers?.reason?.toString() ?? 'unknown');
        return;
      }
      if (message.value === null) return;
      try {
        const event = toLiveEvent(decodeViewChange(message.value));
        if (event !== null) hub.publish(event);
      } catch (err) {
        log.warn({ err, offset: message.offset }, 'undecodable view change skipped by the live feed');
      }
    },
  });
  return {
    hub,
    deadLetters,
    ready,
    close: async () => {
      await consumer.disconnect();
    },
  };
}

function toLiveEvent(c: ReturnType<typeof decodeViewChange>): LiveEvent | null {
  const view = viewByName(c.view);
  if (view === undefined) return null;
  const values = view.dimensions.map((d: Dimension) => c.key[d] ?? '');
  return {
    view: c.view,
    key: encodeRowKey(view.dimensions, values),
    grain: c.grain,
    bucket: new Date(c.bucketStart).toISOString(),
    measures: c.measures,
    generation: c.generation,
    cause: c.cause,
    offsets: c.offsets,
  };
}
