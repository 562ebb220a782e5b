import type { Config } from '../../core/config.ts';
import { MeterflowError } from '../../core/errors.ts';
import type { OffsetsReader } from '../pipeline/pipeline-status.ts';
import type { sharedAdmin } from './probes.ts';

/** A topic's low/high watermarks per partition; Kafka unreachable → 503 MF_KAFKA_UNREACHABLE, not 500. */
export function kafkaOffsetsReader(admin: ReturnType<typeof sharedAdmin>, config: Config): OffsetsReader {
  return async (topic) => {
    try {
      const offsets = await admin.run((a) => a.fetchTopicOffsets(topic));
      return offsets.map((o) => ({ partition: o.partition, high: Number(o.high), low: Number(o.low) }));
    } catch (cause) {
      throw new MeterflowError('MF_KAFKA_UNREACHABLE', `cannot read the offsets of ${topic} from Kafka: ${(cause as Error).message}`, {
        cause,
        details: { topic, brokers: config.kafka.brokers ?? null },
      });
    }
  };
}
