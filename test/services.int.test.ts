import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CassandraClient, createCassandra } from '../core/cassandra.ts';
import { createKafka } from '../core/kafka.ts';
import { createLogger } from '../core/logger.ts';
import { migrate } from '../infra/migrate/migrate.ts';
import { testConfig } from './support/test-config.ts';

// The foundation every layer stands on: the real local Kafka and Cassandra answer real clients,
// and migrations are idempotent.
const config = testConfig();
const log = createLogger('test', 'warn');

describe('real Kafka', () => {
  it('round-trips raw bytes through a fresh topic, in order per key', async () => {
    const kafka = createKafka(config, log);
    const topic = `test.bytes.${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2, replicationFactor: 1 }] });
    await admin.disconnect();

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sent = Array.from({ length: 200 }, (_, i) => ({ key: `meter-${i % 7}`, value: Buffer.from([i & 0xff, 0x00, 0xff, i >> 8]) }));
    await producer.send({ topic, messages: sent });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `test-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: { key: string; value: Buffer; partition: number }[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${sent.length} messages arrived`)), 30_000);
      consumer
        .run({
          eachMessage: async ({ message, partition }) => {
            received.push({ key: String(message.key), value: message.value as Buffer, partition });
            if (received.length === sent.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();

    expect(received).toHaveLength(sent.length);
    for (let m = 0; m < 7; m++) {
      const key = `meter-${m}`;
      const want = sent.filter((s) => s.key === key).map((s) => s.value.toString('hex'));
      const got = received.filter((r) => r.key === key);
      expect(got.map((r) => r.value.toString('hex'))).toEqual(want);
      expect(new Set(got.map((r) => r.partition)).size).toBe(1);
    }
  });
});

describe('real Cassandra', () => {
  let client: CassandraClient;
  beforeAll(async () => {
    client = createCassandra(config);
    await client.connect();
  });
  afterAll(() => client.shutdown());

  it('writes and reads a row of the meter registry with prepared statements', async () => {
    const id = `test-${randomUUID()}`;
    await client.execute(
      'INSERT INTO meters (meter_id, site_id, region, time_zone, tariff, rated_kw, reading_kind, interval_minutes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [id, 'site-1', 'London', 'Europe/London', 'ToU', 12.5, 'interval', 30, new Date()],
    );
    const row = (await client.execute('SELECT * FROM meters WHERE meter_id = ?', [id])).first();
    expect(row.get('site_id')).toBe('site-1');
    expect(row.get('rated_kw')).toBe(12.5);
    expect(row.get('interval_minutes')).toBe(30);
    await client.execute('DELETE FROM meters WHERE meter_id = ?', [id]);
    expect((await client.execute('SELECT * FROM meters WHERE meter_id = ?', [id])).rowLength).toBe(0);
  });
});

describe('migrate', () => {
  async function schemaSnapshot() {
    const client = createCassandra(config, { keyspace: false });
    try {
      const ks = config.cassandra.keyspace;
      const keyspace = (await client.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [ks])).first();
      const columns = (
        await client.execute('SELECT table_name, column_name, type, kind FROM system_schema.columns WHERE keyspace_name = ?', [ks])
      ).rows.map((r) => `${r.get('table_name')}.${r.get('column_name')}:${r.get('type')}:${r.get('kind')}`);
      const migrations = (await client.execute(`SELECT version, checksum FROM ${ks}.schema_migrations`)).rows.map(
        (r) => `${r.get('version')}:${r.get('checksum')}`,
      );
      const admin = createKafka(config, log).admin();
      await admin.connect();
      const meta = await admin.fetchTopicMetadata({ topics: Object.values(config.kafka.topics).map((t) => t.name) });
      await admin.disconnect();
      const topics = meta.topics.map((t) => `${t.name}:${t.partitions.length}`).sort();
      return { replication: keyspace.get('replication'), columns: columns.sort(), migrations: migrations.sort(), topics };
    } finally {
      await client.shutdown();
    }
  }

  it('run twice yields the same schema and reports nothing new the second time', async () => {
    const first = await schemaSnapshot();
    const again = await migrate(config, log);
    expect(again.topics.every((t) => t.action === 'unchanged')).toBe(true);
    expect(again.cql.every((m) => m.action === 'already-applied')).toBe(true);
    expect(await schemaSnapshot()).toEqual(first);
    expect(first.topics).toEqual(
      Object.values(config.kafka.topics)
        .map((t) => `${t.name}:${t.partitions}`)
        .sort(),
    );
    expect(first.replication).toMatchObject({ class: 'org.apache.cassandra.locator.SimpleStrategy', replication_factor: '1' });
    expect(first.columns).toContain('meters.rated_kw:double:regular');
  });

  it('adds partitions and updates retention on existing topics when the config grows', async () => {
    const grown = testConfig({ kafka: { topics: { deadLetters: { partitions: 4, retentionMs: 1_209_600_000 } } } });
    const result = await migrate(grown, log);
    const dl = result.topics.find((t) => t.name === grown.kafka.topics.deadLetters.name);
    expect(dl).toMatchObject({ action: 'partitions-added', partitions: 4 });
    const again = await migrate(grown, log);
    expect(again.topics.find((t) => t.name === grown.kafka.topics.deadLetters.name)?.action).toBe('unchanged');
  });
});
