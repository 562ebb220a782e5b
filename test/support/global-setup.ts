import { createLogger } from '../../core/logger.ts';
import { LocalInfra } from '../../infra/local/local-infra.ts';
import { migrate } from '../../infra/migrate/migrate.ts';
import { testConfig } from './test-config.ts';

/**
 * Starts the real local Kafka and Cassandra for the integration tests (re-using the jar cache) and
 * stops them afterwards, whether the tests passed or not. Services that were already running
 * before the tests are left running; so is everything when METERFLOW_TEST_KEEP_SERVICES=1
 * (a faster edit-test loop).
 */
export default async function setup(): Promise<() => Promise<void>> {
  const config = testConfig();
  const log = createLogger('test-infra', 'info');
  const infra = new LocalInfra(config, log);
  const before = await infra.status();
  const started = Date.now();
  await infra.up();
  await migrate(config, log.child({}, { level: 'warn' }));
  log.info({ seconds: (Date.now() - started) / 1000 }, 'test services ready');
  return async () => {
    if (process.env.METERFLOW_TEST_KEEP_SERVICES === '1') return;
    const toStop = before.filter((s) => s.mode === 'local' && !s.running).map((s) => s.name);
    if (toStop.length > 0) await infra.down(toStop);
  };
}
