import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envPath, loadConfig } from './config.ts';
import { isMeterflowError, type MeterflowError } from './errors.ts';

const empty = mkdtempSync(join(tmpdir(), 'mf-config-'));
const load = (env: Record<string, string> = {}, options: Parameters<typeof loadConfig>[0] = {}) =>
  loadConfig({ env, cwd: empty, ...options });

function configError(fn: () => unknown): MeterflowError {
  try {
    fn();
  } catch (err) {
    if (isMeterflowError(err)) return err;
    throw err;
  }
  throw new Error('expected a config error');
}

describe('loadConfig', () => {
  it('gives every default with no file and no environment', () => {
    const c = load();
    expect(c.kafka.brokers).toBeUndefined();
    expect(c.kafka.topics.readings).toEqual({
      name: 'meterflow.readings',
      partitions: 6,
      retentionMs: 604_800_000,
      cleanupPolicy: 'delete',
    });
    expect(c.kafka.topics.viewChanges.cleanupPolicy).toBe('compact');
    expect(c.cassandra.replication).toEqual({ class: 'SimpleStrategy', replicationFactor: 1 });
    expect(c.infra.kafka.port).toBe(9092);
    expect(c.infra.cassandra.nativePort).toBe(9042);
    expect(c.stateDir).toBe(join(empty, '.meterflow'));
  });

  it('reads KAFKA_BROKERS and CASSANDRA_CONTACT_POINTS as comma lists', () => {
    const c = load({ KAFKA_BROKERS: 'k1:9092, k2:9092', CASSANDRA_CONTACT_POINTS: 'c1:9042' });
    expect(c.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.cassandra.contactPoints).toEqual(['c1:9042']);
  });

  it('maps METERFLOW_SECTION__KEY variables to nested camelCase keys, typed', () => {
    expect(envPath('METERFLOW_INFRA__KAFKA__CONTROLLER_PORT')).toEqual(['infra', 'kafka', 'controllerPort']);
    const c = load({ METERFLOW_INFRA__KAFKA__HEAP_MB: '1024', METERFLOW_KAFKA__TOPICS__READINGS__PARTITIONS: '12' });
    expect(c.infra.kafka.heapMb).toBe(1024);
    expect(c.kafka.topics.readings.partitions).toBe(12);
  });

  it('layers file < environment < overrides', () => {
    const file = join(empty, 'layers.yaml');
    writeFileSync(file, 'infra:\n  kafka:\n    port: 1111\n    heapMb: 600\n');
    const c = load({ METERFLOW_INFRA__KAFKA__PORT: '2222' }, { file, overrides: { infra: { kafka: { heapMb: 700 } } } });
    expect(c.infra.kafka.port).toBe(2222);
    expect(c.infra.kafka.heapMb).toBe(700);
  });

  it('rejects an unknown key in a file, naming it, the file and the allowed keys', () => {
    const file = join(empty, 'typo.yaml');
    writeFileSync(file, 'kafka:\n  broker: [a:1]\n');
    const err = configError(() => load({}, { file }));
    expect(err.code).toBe('MF_CONFIG_INVALID');
    expect(err.message).toContain('kafka.broker: unknown key');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/allowed here: brokers, clientId/);
  });

  it('rejects an unknown environment variable under METERFLOW_, naming the variable', () => {
    const err = configError(() => load({ METERFLOW_INFRA__KAFKA__PROT: '1' }));
    expect(err.message).toContain('infra.kafka.prot: unknown key (from environment variable METERFLOW_INFRA__KAFKA__PROT)');
  });

  it('rejects a wrong type, naming the key and the source', () => {
    const err = configError(() => load({ METERFLOW_INFRA__KAFKA__PORT: 'ninety' }));
    expect(err.message).toMatch(/infra\.kafka\.port: .*number.*METERFLOW_INFRA__KAFKA__PORT/);
    const err2 = configError(() => load({ METERFLOW_INFRA__CASSANDRA__NATIVE_PORT: '70000' }));
    expect(err2.message).toMatch(/infra\.cassandra\.nativePort: .*65535/);
  });

  it('rejects a bad enum value, listing the allowed values', () => {
    const err = configError(() => load({ METERFLOW_LOG__LEVEL: 'loud' }));
    expect(err.message).toContain('log.level: must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent"');
  });

  it('rejects a malformed broker address', () => {
    const err = configError(() => load({ KAFKA_BROKERS: 'localhost' }));
    expect(err.message).toMatch(/kafka\.brokers\.0: expected host:port.*KAFKA_BROKERS/);
  });

  it('accepts NetworkTopologyStrategy for real clusters and rejects an unknown strategy', () => {
    const file = join(empty, 'nts.yaml');
    writeFileSync(file, 'cassandra:\n  replication:\n    class: NetworkTopologyStrategy\n    dataCenters: { dc1: 3, dc2: 3 }\n');
    expect(load({}, { file }).cassandra.replication).toEqual({ class: 'NetworkTopologyStrategy', dataCenters: { dc1: 3, dc2: 3 } });
    writeFileSync(file, 'cassandra:\n  replication:\n    class: EverywhereStrategy\n');
    const err = configError(() => load({}, { file }));
    expect(err.message).toMatch(/cassandra\.replication\.class/);
    expect(err.message).toMatch(/SimpleStrategy/);
  });

  it('reports an unreadable or malformed file', () => {
    expect(configError(() => load({}, { file: join(empty, 'missing.yaml') })).code).toBe('MF_CONFIG_FILE_UNREADABLE');
    const file = join(empty, 'bad.json');
    writeFileSync(file, '{ nope');
    expect(configError(() => load({}, { file })).message).toContain('is not valid JSON');
  });
});
