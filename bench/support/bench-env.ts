import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import type { Config } from '../../core/config.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { LocalInfra } from '../../infra/local/local-infra.ts';
import { migrate } from '../../infra/migrate/migrate.ts';

/**
 * Benchmarks use the services of their own state folder and ports, like the tests. Several people
 * benchmarking on one machine move theirs with MF_BENCH_STATE_DIR, MF_BENCH_KAFKA_PORT,
 * MF_BENCH_KAFKA_CONTROLLER_PORT, MF_BENCH_CASSANDRA_PORT and MF_BENCH_CASSANDRA_STORAGE_PORT.
 */
export function benchConfig(overrides: Record<string, unknown> = {}): Config {
  const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  return loadConfig({
    overrides: {
      stateDir: process.env.MF_BENCH_STATE_DIR ?? '.meterflow/bench',
      log: { level: 'warn' },
      infra: {
        kafka: { port: env('MF_BENCH_KAFKA_PORT', 29192), controllerPort: env('MF_BENCH_KAFKA_CONTROLLER_PORT', 29193) },
        cassandra: { nativePort: env('MF_BENCH_CASSANDRA_PORT', 29142), storagePort: env('MF_BENCH_CASSANDRA_STORAGE_PORT', 27100) },
      },
      cassandra: { keyspace: 'meterflow_bench' },
      ...overrides,
    },
  });
}

export async function benchServices(config: Config): Promise<() => Promise<void>> {
  const log = createLogger('bench', 'warn');
  const infra = new LocalInfra(config, log);
  const before = await infra.status();
  await infra.up();
  await migrate(config, log);
  return async () => {
    const started = before.filter((s) => s.mode === 'local' && !s.running).map((s) => s.name);
    if (started.length > 0 && process.env.MF_BENCH_KEEP_SERVICES !== '1') await infra.down(started);
  };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let kernel = '';
  try {
    kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  } catch {}
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${kernel}, Node ${process.version}`;
}
