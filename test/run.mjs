#!/usr/bin/env node
// `npm test`: type check, lint, then every unit and integration test (the integration project
// starts and stops the real local Kafka and Cassandra itself). Ends with the plain line
// "N passed, N failed" read from vitest's JSON report, which CI records.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const report = join(root, 'test-results', 'vitest.json');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);

function step(title, command, commandArgs) {
  process.stdout.write(`\n=== ${title}\n`);
  const started = Date.now();
  const r = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' } });
  process.stdout.write(
    `=== ${title}: ${r.status === 0 ? 'ok' : `failed (exit ${r.status ?? r.signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return r.status ?? 1;
}

let failedSteps = 0;
if (!args.includes('--no-static')) {
  failedSteps += step('type check (tsc --noEmit)', bin('tsc'), ['--noEmit']) === 0 ? 0 : 1;
  failedSteps += step('type check the dashboard (DOM types)', bin('tsc'), ['--noEmit', '-p', 'serving-layer/dashboard']) === 0 ? 0 : 1;
  failedSteps += step('lint (biome check)', bin('biome'), ['check', '.']) === 0 ? 0 : 1;
}

mkdirSync(join(root, 'test-results'), { recursive: true });
rmSync(report, { force: true });
const vitestStatus = step('tests (vitest: unit + integration on real Kafka and Cassandra)', bin('vitest'), [
  'run',
  '--project=unit',
  '--project=integration',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...args.filter((a) => a !== '--no-static'),
]);

let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests ?? 0;
  failed =
    (json.numFailedTests ?? 0) +
    (json.numTotalTests ?? 0) -
    (json.numPassedTests ?? 0) -
    (json.numFailedTests ?? 0) -
    (json.numPendingTests ?? 0) -
    (json.numTodoTests ?? 0);
  const pending = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
  if (pending > 0) {
    // A skipped test is a test that cannot fail: count it as a failure.
    process.stdout.write(`${pending} tests were skipped or todo; meterflow does not skip tests\n`);
    failed += pending;
  }
} else {
  failed = 1;
}
if (vitestStatus !== 0 && failed === 0) failed = 1;
failed += failedSteps;
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 && vitestStatus === 0 ? 0 : 1);
