import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { IngestPipeline } from '../ingest/pipeline/ingest-pipeline.ts';
import type { OutboundMessage, ProducerTransport } from '../ingest/producer/transport.ts';
import { createValidationContext } from '../ingest/validation/context.ts';
import { decodeDeadLetter, decodeReading } from '../schemas/avro/codec.ts';
import type { Meter } from '../schemas/reading.ts';
import { type AppOptions, buildApp } from './app.ts';
import { createApiKey, MemoryKeyStore } from './auth/key-store.ts';

// Unit tests of the HTTP contract with no services: a real IngestPipeline on an in-memory transport,
// and the in-memory key store (the Cassandra one is covered by serving.int.test.ts).

class MemoryTransport implements ProducerTransport {
  readonly name = 'kafkajs' as const;
  readonly sent: { topic: string; message: OutboundMessage }[] = [];
  fail = false;
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (this.fail) throw new Error('broker down');
    for (const message of messages) this.sent.push({ topic, message });
  }
  on(topic: string) {
    return this.sent.filter((s) => s.topic === topic).map((s) => s.message);
  }
}

const meter: Meter = {
  meterId: 'M-1',
  siteId: 'S-1',
  region: 'London',
  timeZone: 'Europe/London',
  tariff: 'flat',
  ratedKw: 10,
  readingKind: 'interval',
  intervalMinutes: 30,
};
const HALF_HOUR = 1_800_000;
const start = Math.floor((Date.now() - 4 * HALF_HOUR) / HALF_HOUR) * HALF_HOUR;
const reading = (i: number, extra: Record<string, unknown> = {}) => ({
  meterId: 'M-1',
  intervalStart: start + i * HALF_HOUR,
  intervalMinutes: 30,
  value: 0.25,
  ...extra,
});
const log = createLogger('test', 'silent');

interface Harness {
  app: FastifyInstance;
  transport: MemoryTransport;
  keys: MemoryKeyStore;
}

let current: Harness | undefined;
afterEach(async () => {
  await current?.app.close();
  current = undefined;
});

async function harness(serving: Record<string, unknown> = {}, extra: Partial<AppOptions> = {}): Promise<Harness> {
  const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { serving: { auth: { required: false }, ...serving } } });
  const transport = new MemoryTransport();
  const pipeline = new IngestPipeline({
    transport,
    topics: { readings: 'readings', deadLetters: 'dead' },
    validation: createValidationContext({ meters: [meter] }),
    batchSize: 100,
    maxInFlightBatches: 4,
    log,
  });
  const keys = new MemoryKeyStore();
  const app = await buildApp({
    config,
    log,
    keyStore: keys,
    probes: { kafka: async () => {}, cassandra: async () => {} },
    ingest: pipeline,
    ...extra,
  });
  current = { app, transport, keys };
  return current;
}

const post = (app: FastifyInstance, payload: string, contentType = 'application/json', headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/readings', payload, headers: { 'content-type': contentType, ...headers } });

describe('POST /v1/readings', () => {
  it('accepts a JSON array and answers per item after the transport acknowledged', async () => {
    const { app, transport } = await harness();
    const res = await post(app, JSON.stringify([reading(0), reading(1, { channel: 'export' })]));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      accepted: 2,
      rejected: 0,
      results: [
        { index: 0, status: 'accepted' },
        { index: 1, status: 'accepted' },
      ],
    });
    const decoded = transport.on('readings').map((m) => decodeReading(m.value));
    expect(decoded.map((r) => [r.intervalStart, r.channel, r.source])).toEqual([
      [start, 'import', 'http:anonymous'],
      [start + HALF_HOUR, 'export', 'http:anonymous'],
    ]);
  });

  it('refuses bad items one by one and dead-letters each with its reason and original bytes', async () => {
    const { app, transport } = await harness();
    const bad = { ...reading(0), vaule: 1 };
    const res = await post(app, JSON.stringify([reading(0), bad, reading(1, { meterId: 'nope' }), 42]));
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body.accepted).toBe(1);
    expect(body.rejected).toBe(3);
    expect(body.results.map((r: { reason?: string }) => r.reason)).toEqual([undefined, 'MALFORMED', 'UNKNOWN_METER', 'MALFORMED']);
    expect(body.results[1].message).toMatch(/vaule/);
    const letters = transport.on('dead').map((m) => decodeDeadLetter(m.value));
    expect(letters.map((l) => l.reason).sort()).toEqual(['MALFORMED', 'MALFORMED', 'UNKNOWN_METER']);
    const malformed = letters.find((l) => l.original.toString().includes('vaule'));
    expect(JSON.parse(malformed?.original.toString() ?? '')).toEqual(bad);
    expect(malformed?.source).toBe('http:anonymous');
    expect(malformed?.origin).toBeNull();
  });

  it('accepts NDJSON, skipping blank lines, and dead-letters a bad line with its exact bytes', async () => {
    const { app, transport } = await harness();
    const lines = [JSON.stringify(reading(0)), '', '{"meterId": "M-1", oops', `${JSON.stringify(reading(1))}\r`, ''];
    const res = await post(app, lines.join('\n'), 'application/x-ndjson');
    expect(res.statusCode).toBe(202);
    expect(res.json().results).toEqual([
      { index: 0, line: 1, status: 'accepted' },
      { index: 1, line: 3, status: 'rejected', reason: 'MALFORMED', message: expect.stringMatching(/not JSON/) },
      { index: 2, line: 4, status: 'accepted' },
    ]);
    expect(transport.on('dead').map((m) => decodeDeadLetter(m.value).original.toString())).toEqual(['{"meterId": "M-1", oops']);
  });

  it('names the position of a JSON syntax error', async () => {
    const { app } = await harness();
    const res = await post(app, '[\n  {"meterId": "M-1",}\n]');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'MF_BAD_REQUEST', line: 2 });
    expect(res.json().message).toMatch(/not valid JSON at line 2, column \d+/);
  });

  it.each([
    ['an empty JSON body', '', 'application/json', /body is empty/],
    ['an empty NDJSON body', '\n\n', 'application/x-ndjson', /body is empty/],
    ['an empty array', '[]', 'application/json', /no readings/],
    ['an object instead of an array', JSON.stringify(reading(0)), 'application/json', /must be a JSON array/],
  ])('refuses %s with 400', async (_name, payload, type, message) => {
    const { app } = await harness();
    const res = await post(app, payload, type);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('MF_BAD_REQUEST');
    expect(res.json().message).toMatch(message);
  });

  it('refuses more items than serving.maxReadingsPerRequest, naming the limit', async () => {
    const { app } = await harness({ maxReadingsPerRequest: 2 });
    const res = await post(app, JSON.stringify([reading(0), reading(1), reading(2)]));
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/at most 2 \(serving.maxReadingsPerRequest\)/);
  });

  it.each(['text/plain', 'application/xml', 'text/csv'])('refuses content type %s with 415', async (type) => {
    const { app } = await harness();
    const res = await post(app, 'x', type);
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ code: 'MF_UNSUPPORTED_MEDIA_TYPE' });
    expect(res.json().message).toMatch(/application\/json or application\/x-ndjson/);
  });

  it('refuses a body over serving.bodyLimitBytes with 413 naming the limit', async () => {
    const { app } = await harness({ bodyLimitBytes: 2_048 });
    const res = await post(app, JSON.stringify(Array.from({ length: 40 }, (_, i) => reading(i))));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'MF_PAYLOAD_TOO_LARGE', limitBytes: 2_048 });
    expect(res.json().message).toMatch(/limit of 2048 bytes \(serving.bodyLimitBytes\)/);
  });

  it('answers 503 (retriable) when the broker does not acknowledge', async () => {
    const { app, transport } = await harness();
    transport.fail = true;
    const res = await post(app, JSON.stringify([reading(0)]));
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('MF_KAFKA_UNREACHABLE');
    expect(res.headers['retry-after']).toBeDefined();
  });
});

describe('auth', () => {
  it('requires a key when serving.auth.required, saying how to send one', async () => {
    const { app } = await harness({ auth: { required: true } });
    const res = await post(app, JSON.stringify([reading(0)]));
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('MF_UNAUTHORIZED');
    expect(res.json().message).toMatch(/Authorization: Bearer/);
  });

  it('is on as soon as one key exists, even when not required', async () => {
    const { app, keys } = await harness({ auth: { required: false, cacheTtlMs: 0 } });
    expect((await post(app, JSON.stringify([reading(0)]))).statusCode).toBe(202);
    const { token, record } = await createApiKey(keys, 'meter-head-end');
    expect((await post(app, JSON.stringify([reading(1)]))).statusCode).toBe(401);
    const ok = await post(app, JSON.stringify([reading(1)]), 'application/json', { authorization: `Bearer ${token}` });
    expect(ok.statusCode).toBe(202);
    const viaHeader = await post(app, JSON.stringify([reading(2)]), 'application/json', { 'x-api-key': token });
    expect(viaHeader.statusCode).toBe(202);
    await keys.revoke(record.id);
    expect((await post(app, JSON.stringify([reading(3)]))).statusCode).toBe(401);
  });

  it('refuses a wrong secret (401), a malformed key (401) and a revoked key (403)', async () => {
    const { app, keys } = await harness({ auth: { required: true, cacheTtlMs: 0 } });
    const { token, record } = await createApiKey(keys, 'k1');
    const wrong = `${token.slice(0, -4)}AAAA`;
    const res = await post(app, '[]', 'application/json', { authorization: `Bearer ${wrong}` });
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/not recognised/);
    const malformed = await post(app, '[]', 'application/json', { 'x-api-key': 'hunter2' });
    expect(malformed.statusCode).toBe(401);
    expect(malformed.json().message).toMatch(/not well-formed/);
    const basic = await post(app, '[]', 'application/json', { authorization: 'Basic abc' });
    expect(basic.json().message).toMatch(/must be "Bearer <key>"/);
    await keys.revoke(record.id);
    const revoked = await post(app, '[]', 'application/json', { authorization: `Bearer ${token}` });
    expect(revoked.statusCode).toBe(403);
    expect(revoked.json()).toMatchObject({ code: 'MF_FORBIDDEN', keyId: record.id });
    expect(revoked.json().message).toMatch(/revoked/);
  });

  it('puts the key name in the source of readings', async () => {
    const { app, keys, transport } = await harness({ auth: { required: true } });
    const { token } = await createApiKey(keys, 'utility-a');
    await post(app, JSON.stringify([reading(0)]), 'application/json', { authorization: `Bearer ${token}` });
    expect(decodeReading(transport.on('readings')[0]?.value as Buffer).source).toBe('http:utility-a');
  });

  it('protects route plugins added later, and leaves operations endpoints open', async () => {
    const { app } = await harness(
      { auth: { required: true } },
      {
        routes: [
          async (api) => {
            api.get(
              '/v1/views/x',
              { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } },
              async () => ({
                ok: true,
              }),
            );
          },
        ],
      },
    );
    expect((await app.inject('/v1/views/x')).statusCode).toBe(401);
    expect((await app.inject('/health')).statusCode).toBe(200);
    expect((await app.inject('/ready')).statusCode).toBe(200);
    expect((await app.inject('/metrics')).statusCode).toBe(200);
  });
});

describe('rate limit', () => {
  it('limits requests per key with 429 and Retry-After', async () => {
    const { app, keys } = await harness({ auth: { required: true }, rateLimit: { max: 2, timeWindowMs: 60_000 } });
    const a = (await createApiKey(keys, 'a')).token;
    const b = (await createApiKey(keys, 'b')).token;
    const send = (token: string) => post(app, JSON.stringify([reading(0)]), 'application/json', { authorization: `Bearer ${token}` });
    expect((await send(a)).statusCode).toBe(202);
    expect((await send(a)).statusCode).toBe(202);
    const limited = await send(a);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('MF_RATE_LIMITED');
    expect(limited.json().message).toMatch(/2 requests per 60 s exceeded for key/);
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await send(b)).statusCode).toBe(202);
  });
});

describe('operations', () => {
  it('/ready says which dependency is down', async () => {
    const { app } = await harness(
      {},
      {
        probes: {
          kafka: async () => {},
          cassandra: async () => {
            throw new Error('connection refused');
          },
        },
      },
    );
    const res = await app.inject('/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'MF_SERVICE_NOT_READY', down: ['cassandra'] });
    expect(res.json().message).toBe('not ready: cassandra is down (connection refused)');
  });

  it('/ready times out a probe that hangs', async () => {
    const { app } = await harness({ probeTimeoutMs: 100 }, { probes: { kafka: () => new Promise(() => {}) } });
    const res = await app.inject('/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toMatch(/kafka is down \(no answer within 100 ms\)/);
  });

  it('/metrics has the per-route latency histogram', async () => {
    const { app } = await harness();
    await post(app, JSON.stringify([reading(0)]));
    const text = (await app.inject('/metrics')).body;
    expect(text).toMatch(/meterflow_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/readings",method="POST",status="202"/);
    expect(text).toMatch(/process_cpu_user_seconds_total/);
  });

  it('serves the OpenAPI document with the ingest route and its security', async () => {
    const { app } = await harness();
    const doc = (await app.inject('/docs/json')).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/readings', '/health', '/ready', '/metrics']));
    expect(doc.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(doc.paths['/health'].get.security).toEqual([]);
    expect(Object.keys(doc.paths['/v1/readings'].post.requestBody.content)).toEqual(['application/json', 'application/x-ndjson']);
    expect((await app.inject('/docs')).statusCode).toBeLessThan(400);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const { app } = await harness();
    const res = await app.inject('/nope?x=1');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'MF_NOT_FOUND', message: 'no route GET /nope; the API is described at /docs' });
  });
});
