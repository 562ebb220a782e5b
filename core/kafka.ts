import kafkajs, { type KafkaConfig } from 'kafkajs';
import type { Config } from './config.ts';
import { MeterflowError } from './errors.ts';
import type { Logger } from './logger.ts';

// kafkajs is CommonJS: named imports of its values fail under ESM.
const { Kafka, logLevel } = kafkajs;
export type Kafka = InstanceType<typeof Kafka>;

/** The brokers meterflow talks to: the configured cluster, or the local node `infra up` starts. */
export function kafkaBrokers(config: Config): string[] {
  return config.kafka.brokers ?? [`127.0.0.1:${config.infra.kafka.port}`];
}

export function isExternalKafka(config: Config): boolean {
  return config.kafka.brokers !== undefined;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose logs go through pino, as structured records. */
export function createKafka(config: Config, log: Logger, overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: config.kafka.clientId,
    brokers: kafkaBrokers(config),
    connectionTimeout: config.kafka.connectionTimeoutMs,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'info']({ ...rest, component: 'kafkajs' }, message);
      },
    ...overrides,
  });
}

/**
 * Connects an admin client and lists topics, failing fast (a few seconds, not kafkajs's minutes of
 * retries) with an error that names the brokers and where they were configured.
 */
export async function checkKafkaReachable(config: Config, log: Logger): Promise<string[]> {
  const kafka = createKafka(config, log, { retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 } });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await admin.listTopics();
  } catch (cause) {
    throw new MeterflowError(
      'MF_KAFKA_UNREACHABLE',
      `cannot reach Kafka at ${kafkaBrokers(config).join(',')} (kafka.brokers${isExternalKafka(config) ? ', e.g. from KAFKA_BROKERS' : ': the local node; is `meterflow infra up` running?'}): ${(cause as Error).message}`,
      { cause, details: { brokers: kafkaBrokers(config) } },
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
