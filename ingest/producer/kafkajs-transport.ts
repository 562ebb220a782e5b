import kafkajs, { type Producer } from 'kafkajs';
import type { Config } from '../../core/config.ts';
import { createKafka } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import type { OutboundMessage, ProducerTransport } from './transport.ts';

const { CompressionTypes } = kafkajs;

/**
 * kafkajs producer: idempotent (the broker drops a retried batch it already has, so a retry never
 * duplicates a reading), acks from all in-sync replicas. kafkajs's default partitioner is Java's
 * murmur2, the same as librdkafka's `murmur2_random`, so both transports put a meter on the same
 * partition.
 */
export class KafkajsTransport implements ProducerTransport {
  readonly name = 'kafkajs' as const;
  private readonly producer: Producer;
  private readonly compression: number;

  constructor(config: Config, log: Logger) {
    this.producer = createKafka(config, log).producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
    });
    this.compression = config.ingest.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  async send(topic: string, messages: OutboundMessage[]): Promise<void> {
    await this.producer.send({ topic, acks: -1, compression: this.compression, messages });
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}
