import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CassandraClient, createCassandra, readAllRows, toNumber } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { migrate } from '../../infra/migrate/migrate.ts';
import { decodeReading } from '../../schemas/avro/codec.ts';
import type { Meter, MeterReading } from '../../schemas/reading.ts';
import { meterLookup, VIEWS } from '../../schemas/views/index.ts';
import { ViewFold } from '../../speed-layer/fold/index.ts';
import { SpeedStore } from '../../speed-layer/store/speed-store.ts';
import { cliEnv, spawnCli } from './cli.ts';
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
export function spawnSpeed(config: Config, env: NodeJS.ProcessEnv = cliEnv(config)): ChildProcess {
  return spawnCli(['speed'], env, join(tmpdir(), `meterflow-speed-${process.pid}.log`));
}

/**
 * What the speed layer must hold for a readings topic: every message that decodes as a reading of a
 * known meter, folded per partition by the reference ViewFold, as `view|grain|key|bucket|partition → states`.
 * `from(p)`: the last offset of partition p that the generation does not hold (−1: none).
 */
export function foldReference(
  messages: { partition: number; offset: string; value: Buffer }[],
  meters: Meter[],
  from: (partition: number) => number = () => -1,
): Map<string, string> {
  const lookup = meterLookup(meters);
  const folds = new Map<number, ViewFold>();
  for (const m of messages) {
    // Readings the batch covers (offset ≤ from) prime the fold: never counted, but they make a
    // later re-send of the same reading a duplicate (what the speed layer does).
    const primed = Number(m.offset) <= from(m.partition);
    let reading: MeterReading;
    try {
      reading = decodeReading(m.value);
    } catch {
      continue;
    }
    if (lookup(reading.meterId) === undefined) continue;
    let fold = folds.get(m.partition);
    if (fold === undefined) {
      fold = new ViewFold({ partition: m.partition, views: VIEWS, meters: lookup });
      folds.set(m.partition, fold);
    }
    if (primed) fold.prime(reading, Number(m.offset));
    else fold.fold(reading, Number(m.offset));
  }
  const expected = new Map<string, string>();
  for (const fold of folds.values()) {
    for (const p of fold.flush().partials)
      if (!p.removed) expected.set(`${p.view}|${p.grain}|${p.key}|${p.bucket}|${fold.partition}`, JSON.stringify(p.states));
  }
  return expected;
}
