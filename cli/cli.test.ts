import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../test/support/cli.ts';

// Command-line behaviour that needs no running services: each failure is fast and names its fix.
const cwd = mkdtempSync(join(tmpdir(), 'mf-cli-'));
const env = (extra: Record<string, string>) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...extra });

describe('meterflow CLI without services', () => {
  const servers: Server[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
  });

  it('fails fast on an unreachable broker, naming it', async () => {
    const r = await runCli(['migrate'], { cwd, env: env({ KAFKA_BROKERS: '127.0.0.1:1', CASSANDRA_CONTACT_POINTS: '127.0.0.1:2' }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MF_(KAFKA|CASSANDRA)_UNREACHABLE: cannot reach (Kafka at 127\.0\.0\.1:1|Cassandra at 127\.0\.0\.1:2)/);
    expect(r.ms).toBeLessThan(20_000);
  });

  it('exits 2 on invalid configuration, naming the key', async () => {
    const r = await runCli(['infra', 'status'], { cwd, env: env({ METERFLOW_INFRA__KAFKA__PORT: 'abc' }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('MF_CONFIG_INVALID');
    expect(r.stderr).toContain('infra.kafka.port');
    expect(r.stderr).toContain('METERFLOW_INFRA__KAFKA__PORT');
  });

  it('refuses to start on a port already taken, naming the port and the key to change', async () => {
    const server = createServer();
    servers.push(server);
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
    const r = await runCli(['infra', 'up', '--only', 'kafka'], {
      cwd,
      env: env({ METERFLOW_INFRA__KAFKA__PORT: String(port), METERFLOW_STATE_DIR: join(cwd, 'state') }),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`MF_PORT_IN_USE: port ${port} (kafka) is already in use`);
    expect(r.stderr).toContain('METERFLOW_INFRA__KAFKA__PORT');
  });

  it('says how to install Java when there is none', async () => {
    const r = await runCli(['infra', 'up'], { cwd, env: { PATH: '/nonexistent', HOME: cwd, METERFLOW_STATE_DIR: join(cwd, 'state2') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MF_JAVA_MISSING');
    expect(r.stderr).toContain('OpenJDK 17');
  });

  it('says how to install Maven when the jars are not cached and there is no mvn', async () => {
    // A PATH with java and nothing else, and an empty jar cache: the first fetch needs Maven.
    const bin = join(cwd, 'java-only');
    mkdirSync(bin, { recursive: true });
    symlinkSync(realpathSync(execFileSync('which', ['java'], { encoding: 'utf8' }).trim()), join(bin, 'java'));
    const r = await runCli(['infra', 'up', '--only', 'kafka'], {
      cwd,
      env: {
        PATH: bin,
        HOME: cwd,
        METERFLOW_STATE_DIR: join(cwd, 'state3'),
        METERFLOW_CACHE_DIR: join(cwd, 'empty-cache'),
        METERFLOW_INFRA__KAFKA__PORT: '45011',
        METERFLOW_INFRA__KAFKA__CONTROLLER_PORT: '45012',
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MF_MAVEN_MISSING');
    expect(r.stderr).toContain('apt-get install maven');
  });

  it('rejects an unknown service name', async () => {
    const r = await runCli(['infra', 'up', '--only', 'zookeeper'], { cwd, env: env({}) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Allowed choices are kafka, cassandra/);
  });

  it('starts nothing when both clusters are external', async () => {
    const r = await runCli(['infra', 'up'], {
      cwd,
      env: env({ KAFKA_BROKERS: '127.0.0.1:1', CASSANDRA_CONTACT_POINTS: '127.0.0.1:2', METERFLOW_STATE_DIR: join(cwd, 'ext') }),
    });
    // Nothing to start; both external clusters are probed and reported unhealthy.
    expect(r.stdout).toMatch(/kafka\s+stopped\s+external\s+127\.0\.0\.1:1/);
    expect(r.stdout).toMatch(/cassandra\s+stopped\s+external\s+127\.0\.0\.1:2/);
    expect(r.code).toBe(1);
  });
});
