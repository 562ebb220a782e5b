import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CassandraClient, createCassandra } from '../core/cassandra.ts';
import { createKafka } from '../core/kafka.ts';
import { createLogger } from '../core/logger.ts';
import { MeterRegistryStore } from '../core/meter-registry.ts';
import { migrate } from '../infra/migrate/migrate.ts';
import { decodeDeadLetter, decodeReading } from '../schemas/avro/codec.ts';
import type { Meter } from '../schemas/reading.ts';
import { BIN, ROOT, runCli, cliEnv as testCliEnv } from '../test/support/cli.ts';
import { testConfig } from '../test/support/test-config.ts';
import { type RunningServer, startServer } from './runtime/start-server.ts';

// The serving layer on the real Kafka and Cassandra: `startServer` wires the same pieces as
// `meterflow serve` (Cassandra key store, meter registry, kafkajs pipeline); keys come from the
// real CLI. Topics are shared with other tests, so our readings carry a meter id of their own and
// our dead letters a key name of their own, and we read from the offsets taken before sending.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const RATE_MAX = 20;
const BODY_LIMIT = 16_384;
const config = testConfig({
  serving: {
    port: 0,
    bodyLimitBytes: BODY_LIMIT,
    auth: { required: true, cacheTtlMs: 200 },
    rateLimit: { max: RATE_MAX, timeWindowMs: 60_000 },
    registryRefreshMs: 1_000,
  },
});
const log = createLogger('test', 'warn');
const kafka = createKafka(config, log);
const run = randomUUID().slice(0, 8);
const meter = (id: string): Meter => ({
  meterId: id,
  siteId: 'site-http',
  region: 'London',
  timeZone: 'Europe/London',
  tariff: 'flat',
  ratedKw: 10,
  readingKind: 'interval',
  intervalMinutes: 30,
});
const METER = `http-test-${run}`;
const HALF_HOUR = 1_800_000;
const start = Math.floor((Date.now() - 10 * HALF_HOUR) / HALF_HOUR) * HALF_HOUR;
const reading = (i: number, meterId = METER) => ({ meterId, intervalStart: start + i * HALF_HOUR, intervalMinutes: 30, value: 0.5 + i });

/** The test config as environment variables, for the CLI in a child process. */
const cliEnv: NodeJS.ProcessEnv = testCliEnv(testConfig());

async function createKey(name: string): Promise<string> {
  const r = await runCli(['keys', 'create', '--name', name], { env: cliEnv });
  expect(r.code, r.stderr).toBe(0);
  const token = /mf_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/.exec(r.stdout)?.[0];
  expect(token, r.stdout).toBeDefined();
  return token as string;
}

async function offsets(topic: string): Promise<{ partition: number; offset: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
  } finally {
    await admin.disconnect();
  }
}

/** Reads `topic` from the given offsets until `done` says enough of the matching messages arrived. */
async function readUntil(
  topic: string,
  from: { partition: number; offset: string }[],
  match: (m: KafkaMessage) => boolean,
  count: number,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: `test-serving-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  const got: KafkaMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} messages arrived on ${topic}`)), 30_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            if (match(message)) got.push(message);
            if (got.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
      for (const p of from) consumer.seek({ topic, partition: p.partition, offset: p.offset });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

const readingsTopic = config.kafka.topics.readings.name;
const deadTopic = config.kafka.topics.deadLetters.name;
let server: RunningServer;
let cassandra: CassandraClient;
let token: string;
const keyName = `int-${run}`;

const post = (payload: string, headers: Record<string, string> = {}, contentType = 'application/json') =>
  server.app.inject({ method: 'POST', url: '/v1/readings', payload, headers: { 'content-type': contentType, ...headers } });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  await migrate(config, log); // idempotent; applies 0002 when the services predate it
  cassandra = createCassandra(config);
  await new MeterRegistryStore(cassandra).upsert([meter(METER)]);
  server = await startServer(config, log);
  token = await createKey(keyName);
});

afterAll(async () => {
  await server?.close();
  await cassandra?.shutdown();
});

describe('serving layer on real Kafka and Cassandra', () => {
  it('/ready is 200 with Kafka and Cassandra up', async () => {
    const res = await server.app.inject('/ready');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { kafka: { status: 'up' }, cassandra: { status: 'up' } } });
  });

  it('accepts a valid batch with a CLI-created key: 202 after the ack, readings on the readings topic', async () => {
    const from = await offsets(readingsTopic);
    const res = await post(JSON.stringify([reading(0), reading(1)]), bearer(token));
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 2, rejected: 0 });
    const messages = await readUntil(readingsTopic, from, (m) => String(m.key) === METER, 2);
    const decoded = messages.map((m) => decodeReading(m.value as Buffer)).sort((a, b) => a.intervalStart - b.intervalStart);
    expect(decoded.map((r) => [r.intervalStart, r.value, r.source])).toEqual([
      [start, 0.5, `http:${keyName}`],
      [start + HALF_HOUR, 1.5, `http:${keyName}`],
    ]);
  });

  it('answers a partly invalid batch per item and dead-letters the bad items with reason and original bytes', async () => {
    const from = await offsets(deadTopic);
    const unknown = reading(2, `no-such-meter-${run}`);
    const malformed = { meterId: METER, intervalStart: start, value: 'lots' };
    const res = await post(JSON.stringify([reading(2), unknown, malformed]), bearer(token));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: 2 });
    expect(res.json().results.map((r: { reason?: string }) => r.reason ?? r)).toEqual([
      { index: 0, status: 'accepted' },
      'UNKNOWN_METER',
      'MALFORMED',
    ]);
    const letters = (await readUntil(deadTopic, from, (m) => decodeDeadLetter(m.value as Buffer).source === `http:${keyName}`, 2)).map(
      (m) => decodeDeadLetter(m.value as Buffer),
    );
    const byReason = Object.fromEntries(letters.map((l) => [l.reason, l]));
    expect(JSON.parse(byReason.UNKNOWN_METER?.original.toString() ?? '')).toEqual(unknown);
    expect(JSON.parse(byReason.MALFORMED?.original.toString() ?? '')).toEqual(malformed);
    expect(byReason.MALFORMED?.message).toMatch(/intervalMinutes|value/);
    expect(byReason.UNKNOWN_METER?.origin).toBeNull();
  });

  it('accepts NDJSON', async () => {
    const from = await offsets(readingsTopic);
    const body = `${JSON.stringify(reading(3))}\n${JSON.stringify(reading(4))}\n`;
    const res = await post(body, bearer(token), 'application/x-ndjson');
    expect(res.statusCode).toBe(202);
    expect(res.json().accepted).toBe(2);
    const got = await readUntil(readingsTopic, from, (m) => String(m.key) === METER, 2);
    expect(got.map((m) => decodeReading(m.value as Buffer).intervalStart).sort()).toEqual([start + 3 * HALF_HOUR, start + 4 * HALF_HOUR]);
  });

  it('refuses malformed JSON (400, with the position) and an oversize body (413, with the limit)', async () => {
    const bad = await post('[{"meterId": "x"', bearer(token));
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/not valid JSON at line 1, column/);
    const big = await post(JSON.stringify(Array.from({ length: 300 }, (_, i) => reading(i))), bearer(token));
    expect(big.statusCode).toBe(413);
    expect(big.json().message).toMatch(new RegExp(`limit of ${BODY_LIMIT} bytes`));
  });

  it('accepts a meter imported while the server runs, after the registry refresh', async () => {
    const late = `http-late-${run}`;
    const first = await post(JSON.stringify([reading(0, late)]), bearer(token));
    expect(first.json().results[0].reason).toBe('UNKNOWN_METER');
    await new MeterRegistryStore(cassandra).upsert([meter(late)]);
    await new Promise((r) => setTimeout(r, 2_500));
    const again = await post(JSON.stringify([reading(0, late)]), bearer(token));
    expect(again.json().results[0]).toEqual({ index: 0, status: 'accepted' });
  });

  it('refuses no credentials (401), a wrong key (401) and a revoked key (403)', async () => {
    const none = await post(JSON.stringify([reading(5)]));
    expect(none.statusCode).toBe(401);
    expect(none.json().message).toMatch(/API key is required/);
    const wrong = await post(JSON.stringify([reading(5)]), bearer(`${token.slice(0, -3)}xyz`));
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().message).toMatch(/not recognised/);

    const doomed = await createKey(`doomed-${run}`);
    expect((await post(JSON.stringify([reading(5)]), bearer(doomed))).statusCode).toBe(202);
    const id = /^mf_([0-9a-f]{12})_/.exec(doomed)?.[1] as string;
    const revoke = await runCli(['keys', 'revoke', id], { env: cliEnv });
    expect(revoke.code, revoke.stderr).toBe(0);
    const list = await runCli(['keys', 'list', '--json'], { env: cliEnv });
    expect(JSON.parse(list.stdout)).toContainEqual(expect.objectContaining({ id, name: `doomed-${run}`, revoked: true }));
    await new Promise((r) => setTimeout(r, 300)); // serving.auth.cacheTtlMs
    const revoked = await post(JSON.stringify([reading(5)]), bearer(doomed));
    expect(revoked.statusCode).toBe(403);
    expect(revoked.json().message).toMatch(new RegExp(`${id} \\(doomed-${run}\\) was revoked`));
    const unknown = await runCli(['keys', 'revoke', '000000000000'], { env: cliEnv });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/MF_NOT_FOUND/);
  });

  it('rate-limits per key with 429', async () => {
    const busy = await createKey(`busy-${run}`);
    const statuses: number[] = [];
    for (let i = 0; i <= RATE_MAX; i++) statuses.push((await post('[]', bearer(busy))).statusCode);
    expect(statuses.slice(0, RATE_MAX).every((s) => s === 400)).toBe(true);
    expect(statuses[RATE_MAX]).toBe(429);
    // Another key has its own budget.
    expect((await post(JSON.stringify([reading(6)]), bearer(token))).statusCode).toBe(202);
  });
});

describe('meterflow serve', () => {
  it('listens, prints its URL, serves, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { cwd: ROOT, env: cliEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed; stderr: ${stderr}`)), 60_000);
      const check = () => {
        const m = /listening on (http:\/\/\S+) /.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      };
      child.stdout.on('data', check);
      exited.then(() => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const res = await fetch(`${url}/v1/readings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([reading(7)]),
    });
    expect(res.status).toBe(202);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/meterflow API stopped/);
  });
});
