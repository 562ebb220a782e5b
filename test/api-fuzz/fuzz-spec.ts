import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { VIEWS } from '../../schemas/views/index.ts';
import { FORMATS } from '../../serving-layer/query/series-formats.ts';

/**
 * Request generators for every operation in the app's own OpenAPI document (/docs/json), so a new
 * route or parameter is fuzzed as soon as it is documented. Values mix realistic ones (from
 * PARAMETER_HINTS) with hostile ones (INJECTIONS, arbitrary unicode, very long strings).
 */

export interface Operation {
  method: string;
  /** OpenAPI path, e.g. /v1/views/{view}/series */
  path: string;
  pathParams: string[];
  queryParams: string[];
  hasBody: boolean;
  /** false: documented `security: []` (no key needed). */
  needsKey: boolean;
}

type OpenApiParameter = { name: string; in: string };
type OpenApiOperation = { parameters?: OpenApiParameter[]; requestBody?: unknown; security?: unknown[] };

/** The operations of the OpenAPI document the app serves, plus the documentation routes themselves. */
export async function operationsOf(app: FastifyInstance): Promise<Operation[]> {
  const doc = (await app.inject('/docs/json')).json() as { paths: Record<string, Record<string, OpenApiOperation>> };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
        hasBody: op.requestBody !== undefined,
        needsKey: !(Array.isArray(op.security) && op.security.length === 0),
      });
    }
  }
  // Swagger UI hides its own routes from the document; they are endpoints all the same.
  for (const path of ['/docs', '/docs/json', '/docs/yaml']) {
    ops.push({ method: 'GET', path, pathParams: [], queryParams: [], hasBody: false, needsKey: false });
  }
  // So are the dashboard's static files (one route each once `npm install` has built the page).
  for (const route of routerRoutes(app)) {
    const [method, path] = route.split(' ') as [string, string];
    if (method === 'GET' && isDashboardPage(path) && !ops.some((o) => o.method === method && o.path === path)) {
      ops.push({ method, path, pathParams: [], queryParams: [], hasBody: false, needsKey: false });
    }
  }
  return ops;
}

/** A static file of the dashboard: `/`, `/index.html` or a built asset. Open: the page asks for the key. */
export function isDashboardPage(path: string): boolean {
  return /^\/(index\.html|assets\/[^/]+)?$/.test(path);
}

/**
 * Every route the router holds, as `METHOD /path/{param}` (HEAD and Swagger UI's static files left
 * out), read from printRoutes: the check that no route escapes the fuzz by being left out of the
 * OpenAPI document.
 */
export function routerRoutes(app: FastifyInstance): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    stack.length = depth;
    stack.push(m[2] as string);
    const path = stack.join('').replace(/:(\w+)/g, '{$1}');
    for (const method of (m[3] ?? '').split(',').map((x) => x.trim())) {
      if (method === '' || method === 'HEAD' || path.startsWith('/docs/static/') || path === '/docs/*') continue;
      out.push(`${method} ${path === '/docs/' ? '/docs' : path}`);
    }
  }
  return [...new Set(out)].sort();
}

/** Strings that break naive SQL/CQL, paths, parsers, logs and terminals. */
export const INJECTIONS = [
  "'",
  "''",
  "'; DROP TABLE api_keys; --",
  "' OR '1'='1",
  '"; DROP KEYSPACE meterflow_fuzz; --',
  "x' ALLOW FILTERING; --",
  '../../../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  '/../../docs',
  'a\u0000b',
  '\u0000',
  '%00',
  '%',
  '%%%',
  '\\',
  '|',
  '=',
  'meter=',
  '=x',
  'meter=a|meter=b',
  'meter=a\\|b',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell probe, literally
  '${jndi:ldap://x}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '\r\nX-Injected: 1',
  '\u202e\u0301\ud83d\udca5',
  '\ud800',
  'NaN',
  'Infinity',
  '-1',
  '1e309',
  '9999999999999999999999',
  '0000-00-00',
  '2100-01-01',
  '1970-01-01',
  '275760-09-13',
  '__proto__',
  'constructor',
  'x'.repeat(10_000),
  'é'.repeat(3_000),
] as const;

const views = VIEWS.map((v) => v.name);
const grains = [...new Set(VIEWS.flatMap((v) => [...v.grains]))];
const measures = [...new Set(VIEWS.flatMap((v) => v.measures.map((m) => m.name)))];

/**
 * Realistic values per parameter name. A documented parameter without an entry fails the coverage
 * test: add the values that reach past the parameter checks, so the fuzz exercises the route itself.
 */
export const PARAMETER_HINTS: Record<string, readonly string[]> = {
  view: views,
  key: ['meter=bad:m1', 'meter=bad:ghost', 'site=bad:s1', 'region=Test', 'tariff=flat', ''],
  from: ['2026-05-01', '2026-05-30T00:00:00Z', '2026-05-31T00:00:00+02:00', '2013-01-01'],
  to: ['2026-06-01', '2026-05-31T12:00:00Z', '2026-06-02', '2014-01-01'],
  grain: grains,
  measures: [...measures, measures.slice(0, 2).join(','), `${measures[0]},nope`],
  format: [...FORMATS],
  parent: ['region=Test', 'site=bad:s1', 'meter=bad:m1', 'region=', 'nope=x', ''],
  by: [...measures, 'nope'],
  limit: ['1', '10', '100', '0', '-1', '100000', '1.5', 'x'],
  order: ['asc', 'desc', 'sideways'],
};

const ACCEPTS = ['application/json', 'text/csv', 'application/vnd.apache.arrow.stream', '*/*', 'text/html', 'x/y;q=abc', '', ',,,'];

function parameterValue(name: string): fc.Arbitrary<string> {
  const hints = PARAMETER_HINTS[name] ?? [];
  return fc.oneof(
    { arbitrary: fc.constantFrom(...(hints.length > 0 ? hints : ['x'])), weight: 4 },
    { arbitrary: fc.constantFrom(...INJECTIONS), weight: 3 },
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }), weight: 1 },
  );
}

/** encodeURIComponent throws on lone surrogates; send those bytes percent-encoded as they would arrive. */
export function encode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return escape(value);
  }
}

/** A request for `op`: every path and query parameter drawn from hints and hostile values, sometimes repeated or left out. */
export function requestFor(op: Operation, headers: Record<string, string>): fc.Arbitrary<InjectOptions> {
  const path = fc.tuple(...op.pathParams.map((p) => parameterValue(p))).map((values) => {
    let url = op.path;
    op.pathParams.forEach((p, i) => {
      url = url.replace(`{${p}}`, encode(values[i] as string));
    });
    return url;
  });
  const queryPart = (name: string) =>
    fc.oneof(
      { arbitrary: fc.constant([] as string[]), weight: 1 },
      { arbitrary: parameterValue(name).map((v) => [`${name}=${encode(v)}`]), weight: 5 },
      {
        arbitrary: fc.tuple(parameterValue(name), parameterValue(name)).map(([a, b]) => [`${name}=${encode(a)}`, `${name}=${encode(b)}`]),
        weight: 1,
      },
      { arbitrary: fc.constant([name]), weight: 1 },
    );
  const query = fc
    .tuple(
      fc.tuple(...op.queryParams.map(queryPart)),
      fc.oneof(
        fc.constant([] as string[]),
        fc.constantFrom(...INJECTIONS).map((v) => [`${encode(v)}=${encode(v)}`]),
      ),
    )
    .map(([known, extra]) => [...known.flat(), ...extra].join('&'));
  const body = op.hasBody ? bodyArbitrary() : fc.constant(undefined);
  return fc.tuple(path, query, fc.constantFrom(...ACCEPTS), body).map(([url, q, accept, b]) => ({
    method: op.method as InjectOptions['method'],
    url: q.length > 0 ? `${url}?${q}` : url,
    headers: { ...headers, ...(accept === '' ? {} : { accept }), ...(b ? { 'content-type': b.type } : {}) },
    ...(b ? { payload: b.payload } : {}),
  }));
}

const readingLike = fc.record(
  {
    meterId: fc.oneof(fc.constantFrom('bad:m1', 'bad:ghost'), fc.constantFrom(...INJECTIONS)),
    intervalStart: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(...INJECTIONS), fc.constant(Date.UTC(2026, 4, 31))),
    intervalMinutes: fc.oneof(fc.constantFrom(30, 15, 0, -30), fc.double()),
    value: fc.oneof(fc.double(), fc.constantFrom(...INJECTIONS)),
    channel: fc.constantFrom('import', 'export', "'; DROP", ''),
    quality: fc.constantFrom('actual', 'edited', '\u0000'),
  },
  { requiredKeys: [] },
);

function bodyArbitrary(): fc.Arbitrary<{ type: string; payload: string | Buffer }> {
  const types = fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/x-ndjson',
    'text/plain',
    'application/octet-stream',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=zz',
    'application/json; charset=latin1',
    'Application/JSON',
  );
  const payload = fc.oneof(
    fc.array(readingLike, { maxLength: 5 }).map((a) => JSON.stringify(a)),
    fc.array(readingLike, { minLength: 1, maxLength: 5 }).map((a) => a.map((r) => JSON.stringify(r)).join('\n')),
    fc.json(),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    fc.constantFrom(...INJECTIONS),
    fc.constantFrom('[', '[{"value": }]', '[{"__proto__": {}}]', '{"constructor":1}', '[1e999]', '\ufeff[]'),
  );
  return fc.record({ type: types, payload });
}
