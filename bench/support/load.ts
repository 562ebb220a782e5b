/**
 * One autocannon run in its own process (so the load generator does not share the server's event
 * loop), for serving.bench.ts: `node --import tsx bench/support/load.ts '<json options>'` prints the
 * summary as one JSON line on stdout.
 */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  headers?: Record<string, string>;
}

export interface LoadSummary {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const o = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  const r = await autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.durationSeconds,
    headers: o.headers ?? {},
    timeout: 10,
  });
  const summary: LoadSummary = {
    requestsPerSecond: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    requests: r.requests.total,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}
