import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.ts';
import { TEST_PORT_OFFSET } from '../../test/support/test-config.ts';
import { isPortFree } from './ports.ts';

// The `infra` commands as a user runs them, on a state folder and ports of their own so the shared
// test services are not disturbed.
const state = mkdtempSync(join(tmpdir(), 'mf-infra-'));
const o = TEST_PORT_OFFSET;
const ports = { kafka: 29092 + o, controller: 29093 + o, cassandra: 29042 + o, storage: 27000 + o };
const env = {
  ...process.env,
  KAFKA_BROKERS: '',
  CASSANDRA_CONTACT_POINTS: '',
  METERFLOW_STATE_DIR: state,
  METERFLOW_INFRA__KAFKA__PORT: String(ports.kafka),
  METERFLOW_INFRA__KAFKA__CONTROLLER_PORT: String(ports.controller),
  METERFLOW_INFRA__CASSANDRA__NATIVE_PORT: String(ports.cassandra),
  METERFLOW_INFRA__CASSANDRA__STORAGE_PORT: String(ports.storage),
  METERFLOW_LOG__LEVEL: 'warn',
};
delete (env as Record<string, unknown>).KAFKA_BROKERS;
delete (env as Record<string, unknown>).CASSANDRA_CONTACT_POINTS;

/** The JVMs whose command line carries this state folder: what this test started. */
function ourJvms(): number[] {
  try {
    return execFileSync('pgrep', ['-f', `meterflow.service=${state}`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .sort();
  } catch {
    return [];
  }
}

describe('meterflow infra up | status | logs | down', () => {
  afterAll(async () => {
    await runCli(['infra', 'down'], { env });
  });

  it('starts both services once; a second up is a no-op; down leaves no process and frees the ports', async () => {
    const up = await runCli(['infra', 'up'], { env });
    expect(up.stderr).not.toMatch(/MF_/);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(new RegExp(`kafka\\s+healthy\\s+local\\s+127\\.0\\.0\\.1:${ports.kafka}`));
    expect(up.stdout).toMatch(new RegExp(`cassandra\\s+healthy\\s+local\\s+127\\.0\\.0\\.1:${ports.cassandra}`));
    expect(up.stdout).toContain(join(state, 'kafka', 'logs', 'server.log'));
    const pids = ourJvms();
    expect(pids).toHaveLength(2);

    const again = await runCli(['infra', 'up'], { env });
    expect(again.code).toBe(0);
    expect(ourJvms()).toEqual(pids);
    expect(again.ms).toBeLessThan(up.ms);

    const status = await runCli(['infra', 'status', '--json'], { env });
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as { name: string; healthy: boolean; pid: number }[];
    expect(parsed.map((s) => [s.name, s.healthy])).toEqual([
      ['kafka', true],
      ['cassandra', true],
    ]);
    expect(parsed.map((s) => s.pid).sort()).toEqual(pids);

    const logs = await runCli(['infra', 'logs', '-n', '5'], { env });
    expect(logs.stdout).toMatch(/==> kafka: .*server\.log/);
    expect(logs.stdout).toMatch(/==> cassandra: .*system\.log/);

    const down = await runCli(['infra', 'down'], { env });
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/kafka\s+stopped/);
    expect(down.stdout).toMatch(/cassandra\s+stopped/);
    expect(ourJvms()).toEqual([]);
    for (const port of Object.values(ports)) expect(await isPortFree(port)).toBe(true);

    const after = await runCli(['infra', 'status'], { env });
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/kafka\s+stopped/);
  });

  it('refuses to start on a port another process holds, naming the port, the key and the fix', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen({ port: ports.kafka, host: '127.0.0.1' }, resolve));
    try {
      const r = await runCli(['infra', 'up', '--only', 'kafka'], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`MF_PORT_IN_USE: port ${ports.kafka} (kafka) is already in use by another process`);
      expect(r.stderr).toMatch(/infra\.kafka\.port \(environment: METERFLOW_INFRA__KAFKA__PORT\)/);
      expect(ourJvms()).toEqual([]);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('reports a service that does not become ready in time with its last log lines, and leaves nothing running', async () => {
    const r = await runCli(['infra', 'up', '--only', 'cassandra'], { env: { ...env, METERFLOW_INFRA__READY_TIMEOUT_MS: '1000' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MF_SERVICE_NOT_READY: cassandra did not become ready within 1000 ms (infra.readyTimeoutMs)');
    expect(r.stderr).toContain('last log lines');
    expect(ourJvms()).toEqual([]);
  });
});
