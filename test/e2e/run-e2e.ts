// `npm run e2e`: the end-to-end correctness run over ALL the real data in ../shared/data (100 LCL
// households, the dirty raw LCL file, the six OPSD households, Ausgrid), on Kafka and Cassandra of its
// own (state folder .meterflow/e2e, the test ports + 50 + METERFLOW_TEST_PORT_OFFSET), started here and
// stopped at the end unless they were already running. Exits 1 on any mismatch.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../core/logger.ts';
import { LocalInfra } from '../../infra/local/local-infra.ts';
import { migrate } from '../../infra/migrate/migrate.ts';
import { DATA_DIR } from '../support/data-dir.ts';
import { TEST_PORT_OFFSET, testConfig } from '../support/test-config.ts';
import { runE2e } from './scenario.ts';

const o = TEST_PORT_OFFSET + 50;
const config = testConfig({
  stateDir: '.meterflow/e2e',
  infra: {
    kafka: { port: 19092 + o, controllerPort: 19093 + o },
    cassandra: { nativePort: 19042 + o, storagePort: 17000 + o },
  },
});
const log = createLogger('e2e', 'info');
const say = (line: string) => process.stdout.write(`${line}\n`);

const households = readdirSync(join(DATA_DIR, 'lcl-2013'))
  .filter((f) => f.endsWith('.csv'))
  .map((f) => f.replace(/\.csv$/, ''))
  .sort();
const opsd = readdirSync(join(DATA_DIR, 'opsd-households'))
  .filter((f) => f.endsWith('.csv'))
  .map((f) => f.replace(/\.csv$/, ''))
  .sort();

const started = Date.now();
const infra = new LocalInfra(config, log);
const before = await infra.status();
let exitCode = 1;
try {
  await infra.up();
  await migrate(config, log.child({}, { level: 'warn' }));
  say(`services up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // A tenth of the households arrive after the batch run: their answers are speed(V) alone.
  const late = households.filter((_, i) => i % 10 === 9);
  const report = await runE2e(
    config,
    {
      dataDir: DATA_DIR,
      lclEarly: households.filter((h) => !late.includes(h)),
      lclLate: late,
      lclRaw: true,
      opsd,
      ausgrid: true,
    },
    say,
  );
  for (const m of report.mismatches.slice(0, 50)) say(`MISMATCH ${m}`);
  say(
    `e2e: ${households.length} LCL households + raw file, ${opsd.length} OPSD households, Ausgrid; batch v${report.batchVersion}; ` +
      `${report.answers} answers (${report.values} values) compared, max abs error ${report.maxAbsError.toExponential(2)} kWh, ` +
      `dead letters ${report.deadLetters.actual}/${report.deadLetters.expected}, mismatches ${report.mismatches.length}, ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  exitCode = report.mismatches.length === 0 && report.answers > 0 ? 0 : 1;
} finally {
  const toStop = before.filter((s) => s.mode === 'local' && !s.running).map((s) => s.name);
  if (toStop.length > 0 && process.env.METERFLOW_TEST_KEEP_SERVICES !== '1') await infra.down(toStop);
}
process.exit(exitCode);
