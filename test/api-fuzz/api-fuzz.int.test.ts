import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CassandraClient, createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { createKafka } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { MeterRegistryStore } from '../../core/meter-registry.ts';
import { createIngestPipeline } from '../../ingest/pipeline/create-pipeline.ts';
import { CassandraKeyStore } from '../../serving-layer/auth/cassandra-key-store.ts';
import { createApiKey } from '../../serving-layer/auth/key-store.ts';
import { type RunningServer, startServer } from '../../serving-layer/runtime/start-server.ts';
import { SpeedLayer } from '../../speed-layer/speed-layer.ts';
import { CORPUS_METERS, goodReading, meterMap, NOW } from '../bad-input/corpus.ts';
import { withFreshTopics } from '../support/kafka-helpers.ts';
import { waitForSpeedCaughtUp, withFreshKeyspace } from '../support/speed-helpers.ts';
import { testConfig } from '../support/test-config.ts';
import {
  encode,
  INJECTIONS,
  isDashboardPage,
  type Operation,
  operationsOf,
  PARAMETER_HINTS,
  requestFor,
  routerRoutes,
} from './fuzz-spec.ts';

// Property-based fuzz of every endpoint the app documents, on the app `meterflow serve` runs
// (startServer: Cassandra key store, meter registry and speed views, DuckDB batch views, the kafkajs
// ingest pipeline) against the real local Cassandra and Kafka, in a keyspace and topics of its own.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const KEYSPACE = 'meterflow_fuzz';
const log = createLogger('test-api-fuzz', 'silent');
// METERFLOW_TEST_FUZZ_RUNS / METERFLOW_TEST_FUZZ_SEED: a longer or different run when hunting (the default run is fixed and short).
const RUNS = Number(process.env.METERFLOW_TEST_FUZZ_RUNS ?? 120);
const SEED = Number(process.env.METERFLOW_TEST_FUZZ_SEED ?? 42);
const OPEN_ROUTES = ['GET /health', 'GET /ready', 'GET /metrics', 'GET /docs', 'GET /docs/json', 'GET /docs/yaml'];

let config: Config;
let server: RunningServer;
let cassandra: CassandraClient;
let ops: Operation[];
let good: Record<string, string>;
let revoked: Record<string, string>;
let tablesBefore: string[];
let answerBefore: string;
const SEEDED = 96;
const SERIES = '/v1/views/meter_15m/series?key=meter%3Dbad%3Am1&from=2026-05-01&to=2026-06-02&grain=day&measures=importKwh';
const keyIds: string[] = [];

async function tables(): Promise<string[]> {
  const rs = await cassandra.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [KEYSPACE], { prepare: true });
  return rs.rows.map((r) => r.get('table_name') as string).sort();
}

/**
 * app.inject with a time limit: a streaming route (server-sent events) never ends its response, and
 * would hang the suite instead of failing it. Such a route needs its own fuzz entry that closes the stream.
 */
async function inject(req: InjectOptions | string): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined;
  const url = typeof req === 'string' ? req : String(req.url);
  if (url.startsWith('/v1/live')) return injectStream(typeof req === 'string' ? { url: req } : req);
  try {
    return await Promise.race([
      server.app.inject(req),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no complete answer within 10 s (a streaming route?): ${url.slice(0, 200)}`)), 10_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The server-sent events route: its answer is judged by status and headers (an open stream is a
 * 200 text/event-stream, closed here at once); a refusal is read whole like any other answer.
 */
async function injectStream(req: InjectOptions): Promise<LightMyRequestResponse> {
  const controller = new AbortController();
  const res = await server.app.inject({ ...req, payloadAsStream: true, signal: controller.signal });
  if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    controller.abort();
    return { statusCode: res.statusCode, headers: res.headers, body: '', payload: '' } as unknown as LightMyRequestResponse;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of res.stream()) chunks.push(Buffer.from(chunk as Buffer));
  const body = Buffer.concat(chunks).toString();
  return {
    statusCode: res.statusCode,
    headers: res.headers,
    body,
    payload: body,
    json: () => JSON.parse(body),
  } as unknown as LightMyRequestResponse;
}

const describeRequest = (req: InjectOptions) => `${req.method} ${String(req.url).slice(0, 200)}`;

/** The contract for any request: never a 5xx; every 4xx is a JSON {code, message} error body. */
function expectContract(req: InjectOptions, res: LightMyRequestResponse): void {
  expect(res.statusCode, `${describeRequest(req)} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBeLessThan(500);
  if (res.statusCode >= 400) {
    const body = JSON.parse(res.body) as { code?: unknown; message?: unknown };
    expect(typeof body.code, describeRequest(req)).toBe('string');
    expect(body.code).toMatch(/^MF_[A-Z_]+$/);
    expect(typeof body.message, describeRequest(req)).toBe('string');
    expect((body.message as string).length).toBeGreaterThan(5);
  }
}

/** A request to `op` with realistic parameters (the first hint of each). */
function plainRequest(op: Operation, headers: Record<string, string>): InjectOptions {
  let url = op.path;
  for (const p of op.pathParams) url = url.replace(`{${p}}`, encodeURIComponent(PARAMETER_HINTS[p]?.[0] ?? 'x'));
  return {
    method: op.method as InjectOptions['method'],
    url,
    headers: { ...headers, ...(op.hasBody ? { 'content-type': 'application/json' } : {}) },
    ...(op.hasBody ? { payload: '[]' } : {}),
  };
}

beforeAll(async () => {
  const base = testConfig({
    serving: {
      port: 0,
      bodyLimitBytes: 65_536,
      auth: { required: true, cacheTtlMs: 100 },
      rateLimit: { max: 1_000_000, timeWindowMs: 60_000 },
    },
  });
  config = await withFreshKeyspace(await withFreshTopics(base, 2), KEYSPACE);
  cassandra = createCassandra(config);
  await cassandra.connect();
  await new MeterRegistryStore(cassandra).upsert([...CORPUS_METERS]);
  // Real data to answer from: two days of one meter, through the ingest pipeline and the speed layer.
  const { pipeline, transport } = await createIngestPipeline(config, log, meterMap(), { now: () => NOW });
  for (let i = 0; i < SEEDED; i++) pipeline.offer({ reading: goodReading(i), source: 'fuzz', origin: null });
  await pipeline.flush();
  await transport.disconnect();
  expect(pipeline.stats.accepted).toBe(SEEDED);
  const speed = new SpeedLayer({ config, log, kafka: createKafka(config, log), cassandra });
  await speed.start();
  try {
    await waitForSpeedCaughtUp(config, 60_000, cassandra);
  } finally {
    await speed.stop();
  }
  const keys = new CassandraKeyStore(cassandra);
  const a = await createApiKey(keys, 'fuzz-good');
  const b = await createApiKey(keys, 'fuzz-revoked');
  await keys.revoke(b.record.id);
  keyIds.push(a.record.id, b.record.id);
  good = { authorization: `Bearer ${a.token}` };
  revoked = { 'x-api-key': b.token };
  server = await startServer(config, log);
  ops = await operationsOf(server.app);
  tablesBefore = await tables();
  answerBefore = (await inject({ method: 'GET', url: SERIES, headers: good })).body;
});

afterAll(async () => {
  await server?.close();
  await cassandra?.shutdown();
});

describe('route coverage', () => {
  it('finds the endpoints in the OpenAPI document, and every documented parameter has fuzz hints', () => {
    const routes = ops.map((o) => `${o.method} ${o.path}`);
    for (const r of ['POST /v1/readings', 'GET /v1/views', 'GET /v1/views/{view}/series', ...OPEN_ROUTES]) expect(routes).toContain(r);
    const missing = ops.flatMap((o) => [...o.pathParams, ...o.queryParams]).filter((p) => PARAMETER_HINTS[p] === undefined);
    expect(missing, 'add these parameters to PARAMETER_HINTS in test/api-fuzz/fuzz-spec.ts').toEqual([]);
  });

  it('every route in the router is one of the fuzzed operations (none hidden from the OpenAPI document)', () => {
    const fuzzed = new Set(ops.map((o) => `${o.method} ${o.path}`));
    const routes = routerRoutes(server.app);
    expect(routes.length).toBeGreaterThanOrEqual(fuzzed.size);
    expect(
      routes.filter((r) => !fuzzed.has(r)),
      'routes without fuzz coverage: document them (route schema) or add them in operationsOf',
    ).toEqual([]);
  });

  it('only the operations and documentation endpoints are open; every other route needs a key', () => {
    const open = ops.filter((o) => !o.needsKey && !isDashboardPage(o.path)).map((o) => `${o.method} ${o.path}`);
    expect(open.sort()).toEqual([...OPEN_ROUTES].sort());
    // The dashboard's files are open too (the page asks for a key), and only to GET.
    expect(ops.filter((o) => isDashboardPage(o.path)).every((o) => o.method === 'GET' && !o.needsKey)).toBe(true);
  });
});

describe('authentication on every data endpoint (real Cassandra key store)', () => {
  it('no key → 401, malformed or unknown or wrong-secret key → 401, revoked key → 403', async () => {
    const data = ops.filter((o) => o.needsKey);
    expect(data.length).toBeGreaterThanOrEqual(3);
    const goodToken = (good.authorization as string).slice('Bearer '.length);
    const wrongSecret = `${goodToken.slice(0, -4)}${goodToken.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const unknownId = `mf_000000000000_${goodToken.slice(-43)}`;
    const cases: [string, Record<string, string>, number, string][] = [
      ['no key', {}, 401, 'MF_UNAUTHORIZED'],
      ['empty bearer', { authorization: 'Bearer ' }, 401, 'MF_UNAUTHORIZED'],
      ['basic auth', { authorization: 'Basic dXNlcjpwYXNz' }, 401, 'MF_UNAUTHORIZED'],
      ['malformed key', { 'x-api-key': "mf_'; DROP TABLE api_keys; --" }, 401, 'MF_UNAUTHORIZED'],
      ['unknown key id', { authorization: `Bearer ${unknownId}` }, 401, 'MF_UNAUTHORIZED'],
      ['wrong secret', { authorization: `Bearer ${wrongSecret}` }, 401, 'MF_UNAUTHORIZED'],
      ['revoked key', revoked, 403, 'MF_FORBIDDEN'],
    ];
    for (const op of data) {
      for (const [name, headers, status, code] of cases) {
        const req = plainRequest(op, headers);
        const res = await inject(req);
        expect(res.statusCode, `${name}: ${describeRequest(req)}`).toBe(status);
        expect(res.json(), `${name}: ${describeRequest(req)}`).toMatchObject({ code, message: expect.any(String) });
      }
      // And with the good key the same request is not refused for auth.
      const ok = await inject(plainRequest(op, good));
      expect([401, 403]).not.toContain(ok.statusCode);
    }
  });

  it('fuzzed requests without a valid key are all refused for auth, whatever their parameters and bodies', async () => {
    for (const op of ops.filter((o) => o.needsKey)) {
      await fc.assert(
        fc.asyncProperty(requestFor(op, {}), fc.constantFrom<Record<string, string>>({}, revoked), async (req, headers) => {
          const res = await inject({ ...req, headers: { ...req.headers, ...headers } });
          expectContract(req, res);
          // The router refuses a malformed path before any route runs (so before auth): no data either way.
          if (res.statusCode === 400) expect(res.json().message).toMatch(/path parameter is longer|URL path is not valid/);
          else expect(res.statusCode, describeRequest(req)).toBe(headers === revoked ? 403 : 401);
        }),
        { numRuns: Math.ceil(RUNS / 4), seed: SEED + 1 },
      );
    }
  });
});

describe('fuzz with a valid key: never a 5xx, every 4xx a {code, message} body', () => {
  it('every documented endpoint, every parameter, hostile values included', async () => {
    let answered = 0;
    let ok = 0;
    for (const op of ops) {
      await fc.assert(
        fc.asyncProperty(requestFor(op, good), async (req) => {
          const res = await inject(req);
          expectContract(req, res);
          answered++;
          if (res.statusCode < 300) ok++;
        }),
        { numRuns: RUNS, seed: SEED },
      );
    }
    expect(answered).toBe(RUNS * ops.length);
    // The hints make part of the requests valid, so the fuzz reaches past the parameter checks.
    expect(ok).toBeGreaterThan(ops.length * 5);
  });

  it('router-level refusals (broken percent-encoding, an over-long path parameter) carry the {code, message} body too', async () => {
    for (const [url, message] of [
      ['/v1/views/%E0%A4%A/series', /URL path is not valid/],
      [`/v1/views/${'v'.repeat(101)}/series`, /longer than the 100 characters/],
    ] as const) {
      for (const headers of [good, {}]) {
        const res = await inject({ method: 'GET', url, headers });
        expect(res.statusCode, url).toBe(400);
        expect(res.json()).toMatchObject({ code: 'MF_BAD_REQUEST', message: expect.stringMatching(message) });
      }
    }
  });

  it('wrong methods and unknown paths are 404 with the error body', async () => {
    for (const op of ops) {
      const method = op.method === 'GET' ? 'DELETE' : 'PUT';
      const req: InjectOptions = { ...plainRequest(op, good), method };
      const res = await inject(req);
      expectContract(req, res);
      expect(res.statusCode).toBe(404);
    }
    for (const junk of INJECTIONS.slice(0, 20)) {
      const req: InjectOptions = { method: 'GET', url: `/v1/${encode(junk)}`, headers: good };
      const res = await inject(req);
      expectContract(req, res);
    }
  });

  it('injection strings in view and key are harmless: the keyspace, its tables, the keys and the meters are intact', async () => {
    for (const s of INJECTIONS) {
      for (const url of [
        `/v1/views/${encode(s)}/series?key=meter%3Dbad%3Am1&from=2026-05-01&to=2026-06-01`,
        `/v1/views/meter_15m/series?key=${encode(`meter=${s}`)}&from=2026-05-01&to=2026-06-01&grain=day`,
      ]) {
        const req: InjectOptions = { method: 'GET', url, headers: good };
        const res = await inject(req);
        expectContract(req, res);
        // A key that names a meter no one has is a valid question with an empty answer, never another meter's data.
        if (res.statusCode === 200) expect(res.json().buckets ?? res.json().rows ?? []).toEqual([]);
      }
    }
    expect(await tables()).toEqual(tablesBefore);
    // The seeded meter still answers exactly what was ingested, as before the fuzz.
    const after = await inject({ method: 'GET', url: SERIES, headers: good });
    expect(after.statusCode).toBe(200);
    expect(after.json().buckets.length).toBeGreaterThan(0);
    expect(after.json().buckets).toEqual(JSON.parse(answerBefore).buckets);
    const total = (after.json().buckets as { values: { importKwh: number } }[]).reduce((sum, b) => sum + b.values.importKwh, 0);
    const expected = Array.from({ length: SEEDED }, (_, i) => goodReading(i).value).reduce((a, b) => a + b, 0);
    expect(Math.abs(total - expected)).toBeLessThan(1e-9);
    expect(tablesBefore).toContain('api_keys');
    const store = new CassandraKeyStore(cassandra);
    for (const id of keyIds) expect(await store.get(id)).toBeDefined();
    expect((await new MeterRegistryStore(cassandra).asMap()).size).toBe(CORPUS_METERS.length);
    const health = await inject({ method: 'GET', url: '/ready' });
    expect(health.statusCode).toBe(200);
  });
});
