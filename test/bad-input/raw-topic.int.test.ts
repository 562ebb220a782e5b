import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CassandraClient, createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { createKafka } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { MeterRegistryStore } from '../../core/meter-registry.ts';
import { decodeDeadLetter, encodeReading } from '../../schemas/avro/codec.ts';
import { SpeedLayer } from '../../speed-layer/speed-layer.ts';
import { consumeAll, topicMessageCount, withFreshTopics } from '../support/kafka-helpers.ts';
import { dumpSpeedRows, foldReference, waitForSpeedCaughtUp, withFreshKeyspace } from '../support/speed-helpers.ts';
import { testConfig } from '../support/test-config.ts';
import { badFrameCases, CORPUS_METERS, goodReading } from './corpus.ts';

// Garbage written straight onto the readings topic with a plain kafkajs producer (no validation,
// no codec): the speed layer, in-process on a fresh keyspace and fresh topics, must dead-letter each
// undecodable record with its reason and exact bytes and fold every good reading around it.
const log = createLogger('test-bad-raw', 'warn');
const PARTITIONS = 3;
const GOOD = 600;

interface Sent {
  partition: number;
  bytes: Buffer;
  reason?: string;
}

describe('garbage on the readings topic, read by the speed layer', () => {
  let config: Config;
  let client: CassandraClient;
  const sent: Sent[] = [];

  beforeAll(async () => {
    const base = testConfig({ speed: { groupId: `test-bad-raw-${randomUUID()}`, flushIntervalMs: 200 } });
    config = await withFreshKeyspace(await withFreshTopics(base, PARTITIONS), 'meterflow_bad_raw');
    client = createCassandra(config);
    await client.connect();
    await new MeterRegistryStore(client).upsert([...CORPUS_METERS]);

    // Per partition, in order: good readings with a bad record after every 40th, so each bad one
    // has good neighbours on both sides. An unknown meter's well-formed reading is bad too.
    const bad = [
      ...badFrameCases().map((c) => ({ bytes: c.bytes, reason: c.reason as string })),
      { bytes: encodeReading(goodReading(5_000, { meterId: 'bad:ghost' })), reason: 'UNKNOWN_METER' },
      // Well-formed Avro whose value no layer may count (ingest would have refused it).
      { bytes: encodeReading(goodReading(5_001, { value: Number.NaN })), reason: 'NOT_FINITE' },
      { bytes: encodeReading(goodReading(5_002, { value: Number.POSITIVE_INFINITY })), reason: 'NOT_FINITE' },
      { bytes: encodeReading(goodReading(5_003, { value: -3 })), reason: 'NEGATIVE_VALUE' },
    ];
    let b = 0;
    for (let i = 0; i < GOOD; i++) {
      sent.push({ partition: i % PARTITIONS, bytes: encodeReading(goodReading(i, { value: (i % 13) / 10 })) });
      if (i % 40 === 20 && b < bad.length) sent.push({ partition: i % PARTITIONS, ...(bad[b++] as { bytes: Buffer; reason: string }) });
    }
    while (b < bad.length) sent.push({ partition: b % PARTITIONS, ...(bad[b++] as { bytes: Buffer; reason: string }) });

    const producer = createKafka(config, log).producer();
    await producer.connect();
    try {
      for (let p = 0; p < PARTITIONS; p++) {
        // One message per request keeps the order explicit and lets the 512 KiB record through alone.
        for (const s of sent.filter((x) => x.partition === p)) {
          await producer.send({
            topic: config.kafka.topics.readings.name,
            acks: -1,
            messages: [{ partition: p, key: null, value: s.bytes }],
          });
        }
      }
    } finally {
      await producer.disconnect();
    }
  });
  afterAll(async () => {
    await client?.shutdown();
  });

  it('dead-letters each bad record (reason, exact bytes, topic/partition/offset) and folds exactly the good ones', async () => {
    const bad = sent.filter((s) => s.reason !== undefined);
    expect(await topicMessageCount(config, config.kafka.topics.readings.name)).toBe(sent.length);
    const speed = new SpeedLayer({ config, log, kafka: createKafka(config, log), cassandra: client });
    await speed.start();
    try {
      await waitForSpeedCaughtUp(config, 90_000, client);
    } finally {
      await speed.stop();
    }

    const letters = (await consumeAll(config, config.kafka.topics.deadLetters.name, bad.length)).map((m) => decodeDeadLetter(m.value));
    expect(letters).toHaveLength(bad.length);
    expect(await topicMessageCount(config, config.kafka.topics.deadLetters.name)).toBe(bad.length);
    const messages = await consumeAll(config, config.kafka.topics.readings.name, sent.length);
    for (const s of bad) {
      const letter = letters.find((l) => l.original.equals(s.bytes));
      expect(letter, `dead letter for ${s.bytes.subarray(0, 16).toString('hex')}`).toBeDefined();
      expect(letter?.reason).toBe(s.reason);
      expect(letter?.origin).toMatchObject({ kind: 'kafka', topic: config.kafka.topics.readings.name, partition: s.partition });
      const at = messages.find(
        (m) => m.partition === s.partition && letter?.origin?.kind === 'kafka' && Number(m.offset) === letter.origin.offset,
      );
      expect(at?.value.equals(s.bytes)).toBe(true);
    }

    // The good readings, folded by the reference fold, equal what the speed layer stored.
    const expected = foldReference(messages, [...CORPUS_METERS]);
    const actual = await dumpSpeedRows(config);
    expect(expected.size).toBeGreaterThan(0);
    expect(actual.size).toBe(expected.size);
    for (const [k, v] of expected) expect(actual.get(k), k).toBe(v);
  });
});
