import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../core/config.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'meterflow.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the real `meterflow` command line in a child process, as a user would. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** The environment that points a `meterflow` child process at a test config. */
export function cliEnv(config: Config): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    METERFLOW_STATE_DIR: config.stateDir,
    METERFLOW_LOG__LEVEL: 'warn',
    METERFLOW_INFRA__KAFKA__PORT: String(config.infra.kafka.port),
    METERFLOW_INFRA__CASSANDRA__NATIVE_PORT: String(config.infra.cassandra.nativePort),
    METERFLOW_CASSANDRA__KEYSPACE: config.cassandra.keyspace,
    METERFLOW_KAFKA__TOPICS__READINGS__NAME: config.kafka.topics.readings.name,
    // The serving layer counts a generation complete when every partition is caught up: it must know how many there are.
    METERFLOW_KAFKA__TOPICS__READINGS__PARTITIONS: String(config.kafka.topics.readings.partitions),
    METERFLOW_KAFKA__TOPICS__DEAD_LETTERS__NAME: config.kafka.topics.deadLetters.name,
    METERFLOW_KAFKA__TOPICS__VIEW_CHANGES__NAME: config.kafka.topics.viewChanges.name,
    METERFLOW_SPEED__GROUP_ID: config.speed.groupId,
    METERFLOW_SPEED__FLUSH_INTERVAL_MS: String(config.speed.flushIntervalMs),
    METERFLOW_SPEED__SESSION_TIMEOUT_MS: String(config.speed.sessionTimeoutMs),
    METERFLOW_SPEED__REFRESH_INTERVAL_MS: String(config.speed.refreshIntervalMs),
    METERFLOW_INGEST__RETENTION_DAYS: String(config.ingest.retentionDays),
    ...(config.kafka.brokers ? { KAFKA_BROKERS: config.kafka.brokers.join(',') } : {}),
    METERFLOW_INFRA__KAFKA__CONTROLLER_PORT: String(config.infra.kafka.controllerPort),
    METERFLOW_INFRA__CASSANDRA__STORAGE_PORT: String(config.infra.cassandra.storagePort),
    ...(config.cassandra.contactPoints ? { CASSANDRA_CONTACT_POINTS: config.cassandra.contactPoints.join(',') } : {}),
  };
}

/** A long-running `meterflow` command (speed, serve, ...) as a child process; stdout and stderr appended to `logFile`. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  // Logs go to a file: an unread pipe fills up and blocks the child.
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', out, out] });
  closeSync(out);
  return child;
}
