import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import type { Meter } from '../../schemas/reading.ts';
import { KafkajsTransport } from '../producer/kafkajs-transport.ts';
import type { ProducerTransport } from '../producer/transport.ts';
import { createValidationContext } from '../validation/context.ts';
import { IngestPipeline } from './ingest-pipeline.ts';

const DAY_MS = 86_400_000;

/** The producer transport the config names. */
export async function createTransport(config: Config, log: Logger): Promise<ProducerTransport> {
  if (config.ingest.transport === 'rdkafka') {
    const { RdkafkaTransport } = await import('../producer/rdkafka-transport.ts');
    return new RdkafkaTransport(config, log);
  }
  return new KafkajsTransport(config, log);
}

/** An ingest pipeline on a connected transport, validating against the given meters. */
export async function createIngestPipeline(
  config: Config,
  log: Logger,
  meters: ReadonlyMap<string, Meter>,
  overrides: { now?: () => number } = {},
): Promise<{ pipeline: IngestPipeline; transport: ProducerTransport }> {
  const transport = await createTransport(config, log);
  await transport.connect();
  const pipeline = new IngestPipeline({
    transport,
    topics: { readings: config.kafka.topics.readings.name, deadLetters: config.kafka.topics.deadLetters.name },
    validation: createValidationContext({
      meters,
      futureToleranceMs: config.ingest.futureToleranceMs,
      retentionMs: config.ingest.retentionDays * DAY_MS,
      ...(overrides.now ? { now: overrides.now } : {}),
    }),
    batchSize: config.ingest.batchSize,
    maxInFlightBatches: config.ingest.maxInFlightBatches,
    log,
  });
  return { pipeline, transport };
}
