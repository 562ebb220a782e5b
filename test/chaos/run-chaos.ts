// `npm run chaos [-- --rounds N --seed S]`: many rounds of the failure matrix (test/chaos/chaos-round.ts)
// on services of its own (state folder .meterflow/chaos, the test ports + 60 + METERFLOW_TEST_PORT_OFFSET),
// every fault kind in every round, Kafka and Cassandra stopped and started in alternate rounds (both with
// --all-services). Prints a report and exits non-zero on any lost or double-counted reading.
import { parseArgs } from 'node:util';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { LocalInfra } from '../../infra/local/local-infra.ts';
import { migrate } from '../../infra/migrate/migrate.ts';
import { TEST_PORT_OFFSET } from '../support/test-config.ts';
import { FAULT_KINDS, type FaultKind, type RoundResult, runChaosRound } from './chaos-round.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seed: { type: 'string' },
    'all-services': { type: 'boolean', default: false },
    'keep-services': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const firstSeed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const log = createLogger('chaos', 'warn');
const o = TEST_PORT_OFFSET + 60;
const base = loadConfig({
  overrides: {
    stateDir: '.meterflow/chaos',
    log: { level: 'warn' },
    infra: { kafka: { port: 19092 + o, controllerPort: 19093 + o }, cassandra: { nativePort: 19042 + o, storagePort: 17000 + o } },
    cassandra: { keyspace: 'meterflow_chaos' },
  },
});
const infra = new LocalInfra(base, log);
const before = await infra.status();
process.stdout.write(
  `chaos: ${rounds} rounds from seed ${firstSeed}; starting services (Kafka :${base.infra.kafka.port}, Cassandra :${base.infra.cassandra.nativePort})\n`,
);
await infra.up();
await migrate(base, log);

const results: RoundResult[] = [];
const failures: string[] = [];
for (let i = 0; i < rounds; i++) {
  const seed = (firstSeed + i) >>> 0;
  const services: FaultKind[] = values['all-services'] ? ['kafka', 'cassandra'] : [i % 2 === 0 ? 'kafka' : 'cassandra'];
  const faults: FaultKind[] = ['replay', 'speed', 'archive', 'batch', 'api', ...services];
  try {
    const r = await runChaosRound({ base, seed, households: ['MAC000002', 'MAC000003'], faults, log, budgetMs: 900_000 });
    results.push(r);
    const bad = r.lost + r.doubleCounted + r.kwhMismatches.length + r.masterMissingOffsets + r.masterDuplicateOffsets;
    if (bad > 0) failures.push(`seed ${seed}: ${JSON.stringify({ ...r, kwhMismatches: r.kwhMismatches.slice(0, 5) })}`);
    process.stdout.write(
      `round ${i + 1}/${rounds} seed ${seed}: ${r.seconds.toFixed(0)} s, faults ${JSON.stringify(r.faults)}, ` +
        `readings ${r.servedReadings}/${r.expectedReadings}, lost ${r.lost}, double-counted ${r.doubleCounted}, ` +
        `kWh mismatches ${r.kwhMismatches.length}, master missing ${r.masterMissingOffsets} / duplicate ${r.masterDuplicateOffsets}\n`,
    );
  } catch (err) {
    failures.push(`seed ${seed}: ${(err as Error).message}`);
    process.stdout.write(`round ${i + 1}/${rounds} seed ${seed}: FAILED ${(err as Error).message}\n`);
  }
}

const total = (f: (r: RoundResult) => number) => results.reduce((a, r) => a + f(r), 0);
const byKind = Object.fromEntries(FAULT_KINDS.map((k) => [k, total((r) => r.faults[k])]));
process.stdout.write(
  `\nchaos report\n  rounds run        ${rounds} (${results.length} completed)\n  faults injected   ${JSON.stringify(byKind)}\n` +
    `  readings expected ${total((r) => r.expectedReadings)} (sum over rounds)\n  readings lost     ${total((r) => r.lost)}\n` +
    `  double-counted    ${total((r) => r.doubleCounted)}\n  kWh mismatches    ${total((r) => r.kwhMismatches.length)}\n` +
    `  master offsets    missing ${total((r) => r.masterMissingOffsets)}, duplicated ${total((r) => r.masterDuplicateOffsets)}\n`,
);
if (failures.length > 0) process.stdout.write(`\nfailures (replay a round with --rounds 1 --seed S):\n${failures.join('\n')}\n`);

if (!values['keep-services']) {
  const toStop = before.filter((s) => s.mode === 'local' && !s.running).map((s) => s.name);
  if (toStop.length > 0) await infra.down(toStop);
}
process.exit(failures.length === 0 && results.length === rounds ? 0 : 1);
