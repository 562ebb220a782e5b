import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CassandraClient, createCassandra, readAllRows, toNumber } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { migrate } from '../../infra/migrate/migrate.ts';
import { SpeedStore } from '../../speed-layer/store/speed-store.ts';
import { BIN, cliEnv, ROOT } from './cli.ts';
import { topicMessageCount } from './kafka-helpers.ts';

const log = createLogger('test-speed', 'warn');

/** A keyspace of the test's own (created and migrated), so speed rows of other tests never mix in. */
export async function withFreshKeyspace(config: Config, name: string): Promise<Config> {
  const fresh: Config = { ...config, cassandra: { ...config.cassandra, keyspace: name } };
  const admin = createCassandra(fresh, { keyspace: false });
  try {
    await admin.execute(`DROP KEYSPACE IF EXISTS ${name}`);
  } finally {
    await admin.shutdown();
  }
  await migrate(fresh, log);
  return fresh;
}

/** Every speed row of a generation, as `view|grain|key|bucket|partition → states JSON`. */
export async function dumpSpeedRows(config: Config, generation = 0): Promise<Map<string, string>> {
  const client = createCassandra(config);
  try {
    const out = new Map<string, string>();
    const rows = await readAllRows(
      client,
      'SELECT view_name, generation, row_key, grain, bucket, kafka_partition, states FROM speed_partials',
    );
    for (const r of rows) {
      if (toNumber(r.get('generation')) !== generation) continue;
      out.set(
        `${r.get('view_name')}|${r.get('grain')}|${r.get('row_key')}|${(r.get('bucket') as Date).getTime()}|${r.get('kafka_partition')}`,
        r.get('states') as string,
      );
    }
    return out;
  } finally {
    await client.shutdown();
  }
}

/** Waits until every partition of the readings topic is folded to its end and flushed, caught up. */
export async function waitForSpeedCaughtUp(config: Config, timeoutMs: number, client?: CassandraClient, generation = 0): Promise<void> {
  const own = client ?? createCassandra(config);
  const store = new SpeedStore(own, { writeConcurrency: 1, rowTtlSeconds: 0 });
  const deadline = Date.now() + timeoutMs;
  try {
    const { createKafka } = await import('../../core/kafka.ts');
    const admin = createKafka(config, log).admin();
    await admin.connect();
    try {
      for (;;) {
        const offsets = await admin.fetchTopicOffsets(config.kafka.topics.readings.name);
        const checkpoints = await store.checkpoints(generation);
        const done = offsets.every((o) => {
          const c = checkpoints.find((x) => x.partition === o.partition);
          return c?.caughtUp === true && c.throughOffset >= Number(o.high) - 1;
        });
        if (done) return;
        if (Date.now() > deadline) {
          throw new Error(
            `speed layer not caught up after ${timeoutMs} ms: ${JSON.stringify({ offsets: offsets.map((o) => [o.partition, o.high]), checkpoints })}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await admin.disconnect();
    }
  } finally {
    if (client === undefined) await own.shutdown();
  }
}

export { cliEnv, topicMessageCount };

/** `meterflow speed` as a child process (so a test can kill -9 it). */
export function spawnSpeed(config: Config): ChildProcess {
  // Logs go to a file: an unread pipe fills up and blocks the child.
  const out = openSync(join(tmpdir(), `meterflow-speed-${process.pid}.log`), 'a');
  const child = spawn(process.execPath, [BIN, 'speed'], { cwd: ROOT, env: cliEnv(config), stdio: ['ignore', out, out] });
  closeSync(out);
  return child;
}
