import { createRequire } from 'node:module';
import type { Config } from '../../core/config.ts';
import { MeterflowError } from '../../core/errors.ts';
import { kafkaBrokers } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import type { OutboundMessage, ProducerTransport } from './transport.ts';

/** The part of node-rdkafka's Producer this transport uses (node-rdkafka is an optional dependency). */
interface RdProducer {
  connect(opts: object, cb: (err: Error | null) => void): void;
  disconnect(cb: (err: Error | null) => void): void;
  setPollInterval(ms: number): void;
  produce(
    topic: string,
    partition: null,
    value: Buffer,
    key: string | Buffer,
    timestamp: null,
    opaque: unknown,
    headers?: object[],
  ): boolean;
  flush(timeoutMs: number, cb: (err: Error | null) => void): void;
  on(event: 'delivery-report', cb: (err: { code: number; message: string } | null, report: { opaque: unknown }) => void): void;
  on(event: 'event.error', cb: (err: Error) => void): void;
}

/** librdkafka's "local queue full": wait for deliveries, then produce again. */
const QUEUE_FULL = -184;

/**
 * node-rdkafka producer (librdkafka in C): idempotent, acks=all, batches built by librdkafka with
 * lz4. `partitioner: murmur2_random` matches Java's and kafkajs's default, so a meter lands on the
 * same partition whichever transport produced it. A batch counts as sent when librdkafka's queue
 * has drained (flush) and no delivery failure was reported for it.
 */
export class RdkafkaTransport implements ProducerTransport {
  readonly name = 'rdkafka' as const;
  private readonly producer: RdProducer;
  private deliveryError: Error | undefined;

  constructor(config: Config, log: Logger) {
    let Producer: new (conf: object, topicConf: object) => RdProducer;
    try {
      ({ Producer } = createRequire(import.meta.url)('node-rdkafka') as { Producer: typeof Producer });
    } catch (cause) {
      throw new MeterflowError(
        'MF_CONFIG_INVALID',
        'ingest.transport is rdkafka but node-rdkafka is not installed (it is an optional dependency built from source): run `npm install node-rdkafka` with a C++ toolchain, or set ingest.transport to kafkajs',
        { cause },
      );
    }
    this.producer = new Producer(
      {
        'client.id': config.kafka.clientId,
        'metadata.broker.list': kafkaBrokers(config).join(','),
        'enable.idempotence': true,
        dr_cb: true,
        // Delivery reports only for failures: one JS callback per message costs more than the
        // produce itself. Success is known when flush() returns with no error reported.
        'delivery.report.only.error': true,
        'linger.ms': 5,
        'batch.num.messages': 10_000,
        'batch.size': 1_000_000,
        'queue.buffering.max.messages': 200_000,
        'compression.codec': config.ingest.compression === 'gzip' ? 'gzip' : 'lz4',
        'socket.keepalive.enable': true,
      },
      { acks: -1, partitioner: 'murmur2_random' },
    );
    // No per-message opaque (each one costs a V8 handle in the binding): a failed delivery fails
    // every batch waiting on the same flush, which is conservative — nothing counts unless acked.
    this.producer.on('delivery-report', (err) => {
      if (err) this.deliveryError ??= new MeterflowError('MF_KAFKA_UNREACHABLE', `delivery failed: ${err.message}`, { cause: err });
    });
    this.producer.on('event.error', (err) => log.error({ err }, 'rdkafka error'));
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.producer.connect({}, (err) => {
        if (err) reject(new MeterflowError('MF_KAFKA_UNREACHABLE', `rdkafka could not connect: ${err.message}`, { cause: err }));
        else {
          this.producer.setPollInterval(5);
          resolve();
        }
      }),
    );
  }

  async send(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.produceAll(topic, messages);
    // flush() returns once librdkafka's queue is empty: every message of this batch was either
    // acknowledged (acks=all) or reported as failed through the delivery-report callback.
    await new Promise<void>((resolve, reject) => this.producer.flush(60_000, (err) => (err ? reject(err) : resolve())));
    if (this.deliveryError) throw this.deliveryError;
  }

  private async produceAll(topic: string, messages: OutboundMessage[]): Promise<void> {
    for (const m of messages) {
      const headers = m.headers ? Object.entries(m.headers).map(([k, v]) => ({ [k]: v })) : undefined;
      const key = typeof m.key === 'string' ? Buffer.from(m.key) : m.key;
      for (;;) {
        try {
          this.producer.produce(topic, null, m.value, key, null, null, headers);
          break;
        } catch (err) {
          // Back-pressure from librdkafka's own queue: let deliveries drain, then retry.
          if ((err as { code?: number }).code !== QUEUE_FULL) throw err;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }
  }

  disconnect(): Promise<void> {
    return new Promise((resolve) => this.producer.flush(30_000, () => this.producer.disconnect(() => resolve())));
  }
}
