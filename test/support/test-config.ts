import { type Config, loadConfig } from '../../core/config.ts';

/**
 * The configuration every integration test uses: its own state folder, ports and keyspace, so
 * the tests run beside a developer's `npm start` pipeline without touching it. With KAFKA_BROKERS /
 * CASSANDRA_CONTACT_POINTS set, the tests run against those clusters instead.
 */
/** METERFLOW_TEST_PORT_OFFSET shifts every test port, so two checkouts can run their tests at once. */
export const TEST_PORT_OFFSET = Number(process.env.METERFLOW_TEST_PORT_OFFSET ?? 0);

export function testConfig(overrides: Record<string, unknown> = {}): Config {
  const o = TEST_PORT_OFFSET;
  return loadConfig({
    overrides: {
      stateDir: '.meterflow/test',
      log: { level: process.env.METERFLOW_TEST_LOG_LEVEL ?? 'warn' },
      infra: {
        kafka: { port: 19092 + o, controllerPort: 19093 + o },
        cassandra: { nativePort: 19042 + o, storagePort: 17000 + o },
      },
      cassandra: { keyspace: 'meterflow_test' },
      ...overrides,
    },
  });
}
