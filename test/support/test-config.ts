import { type Config, loadConfig } from '../../core/config.ts';

/**
 * The configuration every integration test uses: its own state folder, ports and keyspace, so
 * the tests run beside a developer's `npm start` pipeline without touching it. With KAFKA_BROKERS /
 * CASSANDRA_CONTACT_POINTS set, the tests run against those clusters instead.
 */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  return loadConfig({
    overrides: {
      stateDir: '.meterflow/test',
      log: { level: process.env.METERFLOW_TEST_LOG_LEVEL ?? 'warn' },
      infra: {
        kafka: { port: 19092, controllerPort: 19093 },
        cassandra: { nativePort: 19042, storagePort: 17000 },
      },
      cassandra: { keyspace: 'meterflow_test' },
      ...overrides,
    },
  });
}
