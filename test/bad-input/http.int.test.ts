import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { createIngestPipeline } from '../../ingest/pipeline/create-pipeline.ts';
import type { ProducerTransport } from '../../ingest/producer/transport.ts';
import { decodeDeadLetter, decodeReading } from '../../schemas/avro/codec.ts';
import type { MeterReading } from '../../schemas/reading.ts';
import { buildApp } from '../../serving-layer/app.ts';
import { createApiKey, MemoryKeyStore } from '../../serving-layer/auth/key-store.ts';
import { consumeAll, topicMessageCount, withFreshTopics } from '../support/kafka-helpers.ts';
import { testConfig } from '../support/test-config.ts';
import { badReadingCases, goodReading, meterMap, NOW, registerPrelude } from './corpus.ts';

// POST /v1/readings with the bad-input corpus, through a real pipeline on the real broker: refused
// items are dead-lettered with their reason and the item's bytes as sent; refused requests (wrong
// content type, oversize, malformed JSON) get a 4xx naming the problem and put nothing on Kafka.
const log = createLogger('test-bad-http', 'warn');
const BODY_LIMIT = 16_384;
const MAX_ITEMS = 50;

/** A corpus reading as an HTTP item (the API sets `source` itself and refuses it in the payload). */
function asItem(r: MeterReading): Record<string, unknown> {
  const { source: _source, ...rest } = r;
  return rest;
}

describe('POST /v1/readings with bad input (real Kafka)', () => {
  let config: Config;
  let app: FastifyInstance;
  let transport: ProducerTransport;
  let auth: Record<string, string>;
  let accepted = 0;
  let rejected = 0;
  const acceptedStarts: number[] = [];

  beforeAll(async () => {
    config = await withFreshTopics(
      testConfig({ serving: { bodyLimitBytes: BODY_LIMIT, maxReadingsPerRequest: MAX_ITEMS, auth: { required: true } } }),
    );
    const created = await createIngestPipeline(config, log, meterMap(), { now: () => NOW });
    transport = created.transport;
    const keyStore = new MemoryKeyStore();
    auth = { authorization: `Bearer ${(await createApiKey(keyStore, 'bad-input')).token}` };
    app = await buildApp({ config, log, keyStore, probes: {}, ingest: created.pipeline });
  });
  afterAll(async () => {
    await app?.close();
    await transport?.disconnect();
  });

  const post = (payload: string | Buffer, contentType?: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/readings',
      headers: { ...auth, ...(contentType === undefined ? {} : { 'content-type': contentType }) },
      payload,
    });

  it('JSON array: each corpus item is refused for its reason (NaN/∞ cannot be JSON: MALFORMED), good items accepted', async () => {
    const cases = badReadingCases().filter((c) => JSON.stringify(c.reading).length < 2_000);
    const items: unknown[] = [asItem(registerPrelude)];
    const expected: string[] = ['accepted'];
    cases.forEach((c, i) => {
      items.push(asItem(c.reading));
      expected.push(Number.isFinite(c.reading.value) || typeof c.reading.value !== 'number' ? c.reason : 'MALFORMED');
      const g = goodReading(100 + i);
      items.push(asItem(g));
      expected.push('accepted');
      acceptedStarts.push(g.intervalStart);
    });
    acceptedStarts.push(registerPrelude.intervalStart);
    const res = await post(JSON.stringify(items), 'application/json');
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json() as { accepted: number; rejected: number; results: { index: number; status: string; reason?: string }[] };
    expect(body.results.map((r) => (r.status === 'accepted' ? 'accepted' : r.reason))).toEqual(expected);
    accepted += body.accepted;
    rejected += body.rejected;

    const letters = (await consumeAll(config, config.kafka.topics.deadLetters.name, rejected)).map((m) => decodeDeadLetter(m.value));
    for (const r of body.results.filter((x) => x.status === 'rejected')) {
      const original = JSON.stringify(items[r.index]);
      const letter = letters.find((l) => l.original.toString() === original);
      expect(letter, original).toBeDefined();
      expect(letter?.reason).toBe(r.reason);
      expect(letter?.source).toBe('http:bad-input');
    }
  });

  it('NDJSON: bad lines (not JSON, NaN literal, 1e999, unknown key, 1970, 2100) refused by line; the others accepted', async () => {
    const g = (i: number) => JSON.stringify(asItem(goodReading(200 + i)));
    const lines = [
      g(0),
      '{"meterId":',
      JSON.stringify(asItem(goodReading(1))).replace(/"value":[^,}]+/, '"value":NaN'),
      JSON.stringify(asItem(goodReading(2))).replace(/"value":[^,}]+/, '"value":1e999'),
      g(1),
      JSON.stringify({ ...asItem(goodReading(3)), vaule: 1 }),
      JSON.stringify(asItem(goodReading(4, { intervalStart: Date.UTC(1970, 0, 1) }))),
      JSON.stringify({ ...asItem(goodReading(5)), intervalStart: '2100-01-01T00:00:00Z' }),
      '\u0000\u0001 binary junk',
      g(2),
    ];
    const res = await post(`${lines.join('\r\n')}\n\n`, 'application/x-ndjson');
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json() as { accepted: number; rejected: number; results: { line: number; status: string; reason?: string }[] };
    expect(body.results.map((r) => [r.line, r.status === 'accepted' ? 'accepted' : r.reason])).toEqual([
      [1, 'accepted'],
      [2, 'MALFORMED'],
      [3, 'MALFORMED'],
      [4, 'NOT_FINITE'],
      [5, 'accepted'],
      [6, 'MALFORMED'],
      [7, 'TOO_OLD'],
      [8, 'FUTURE_TIMESTAMP'],
      [9, 'MALFORMED'],
      [10, 'accepted'],
    ]);
    for (const i of [0, 1, 2]) acceptedStarts.push(goodReading(200 + i).intervalStart);
    accepted += body.accepted;
    rejected += body.rejected;
    const letters = (await consumeAll(config, config.kafka.topics.deadLetters.name, rejected)).map((m) => decodeDeadLetter(m.value));
    for (const r of body.results.filter((x) => x.status === 'rejected')) {
      expect(letters.find((l) => l.original.toString() === lines[r.line - 1])?.reason, `line ${r.line}`).toBe(r.reason);
    }
  });

  it.each([
    ['text/plain', 415, 'MF_UNSUPPORTED_MEDIA_TYPE', /content type "text\/plain" is not accepted/],
    ['application/xml', 415, 'MF_UNSUPPORTED_MEDIA_TYPE', /application\/json or application\/x-ndjson/],
    ['multipart/form-data; boundary=x', 415, 'MF_UNSUPPORTED_MEDIA_TYPE', /multipart/],
    [undefined, 415, 'MF_UNSUPPORTED_MEDIA_TYPE', /\(none\)/],
  ])('content type %s → %i %s', async (type, status, code, message) => {
    const res = await post(JSON.stringify([asItem(goodReading(1))]), type);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ code });
    expect(res.json().message).toMatch(message);
  });

  it.each([
    ['malformed JSON', '[{"meterId": "bad:m1",\n  "value": }]', 400, /not valid JSON at line 2, column \d+/],
    ['NaN literal in a JSON array', '[{"value": NaN}]', 400, /not valid JSON/],
    ['an object, not an array', '{"meterId":"bad:m1"}', 400, /must be a JSON array/],
    ['an empty array', '[]', 400, /holds no readings/],
    ['an empty body', '', 400, /empty/],
    ['whitespace only', '  \n ', 400, /empty/],
    ['a prototype-poisoning key', '[{"__proto__":{"admin":true}}]', 400, /__proto__/],
    ['too many items', JSON.stringify(Array.from({ length: MAX_ITEMS + 1 }, (_, i) => asItem(goodReading(i)))), 400, /at most 50/],
    ['an oversize body', `[${' '.repeat(BODY_LIMIT)}]`, 413, /larger than the limit of 16384 bytes/],
  ])('%s → 4xx naming the problem, nothing produced', async (_name, payload, status, message) => {
    const res = await post(payload, 'application/json');
    expect(res.statusCode, res.body).toBe(status);
    const body = res.json();
    expect(typeof body.code).toBe('string');
    expect(body.message).toMatch(message);
  });

  it('an oversize NDJSON body is refused the same way', async () => {
    const line = JSON.stringify(asItem(goodReading(1)));
    const res = await post(Array.from({ length: Math.ceil(BODY_LIMIT / line.length) + 1 }, () => line).join('\n'), 'application/x-ndjson');
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'MF_PAYLOAD_TOO_LARGE' });
  });

  it('the topics hold exactly the accepted and refused items, nothing from refused requests', async () => {
    expect(await topicMessageCount(config, config.kafka.topics.readings.name)).toBe(accepted);
    expect(await topicMessageCount(config, config.kafka.topics.deadLetters.name)).toBe(rejected);
    const got = (await consumeAll(config, config.kafka.topics.readings.name, accepted)).map((m) => decodeReading(m.value));
    expect(got.map((r) => r.intervalStart).sort()).toEqual([...acceptedStarts].sort());
  });
});
