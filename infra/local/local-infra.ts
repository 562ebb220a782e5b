import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkCassandraReachable, isExternalCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { MeterflowError } from '../../core/errors.ts';
import { checkKafkaReachable, isExternalKafka } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { cassandraNode } from './cassandra-node.ts';
import { ensureJars, lastLines } from './jar-cache.ts';
import { kafkaNode } from './kafka-node.ts';
import { isRunning, readRecord, startDetached, stopProcess } from './managed-process.ts';
import { isPortFree, waitPortFree } from './ports.ts';
import type { LocalService } from './service.ts';
import { checkJava } from './toolchain.ts';

export type ServiceName = 'kafka' | 'cassandra';

export interface ServiceStatus {
  name: ServiceName;
  mode: 'local' | 'external';
  address: string;
  pid?: number;
  running: boolean;
  healthy: boolean;
  detail: string;
  logFile?: string;
}

/**
 * Starts, stops and inspects the local Kafka and Cassandra nodes. A service whose cluster is
 * configured (kafka.brokers / KAFKA_BROKERS, cassandra.contactPoints / CASSANDRA_CONTACT_POINTS) is
 * external: it is probed, never started or stopped.
 */
export class LocalInfra {
  private readonly services: LocalService[];

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.services = [kafkaNode(config, log), cassandraNode(config)];
  }

  private selected(only?: ServiceName[]): LocalService[] {
    return this.services.filter((s) => only === undefined || only.includes(s.name));
  }

  isExternal(name: ServiceName): boolean {
    return name === 'kafka' ? isExternalKafka(this.config) : isExternalCassandra(this.config);
  }

  /** Starts what is not running, waits until every service answers clients. Idempotent. */
  async up(only?: ServiceName[]): Promise<ServiceStatus[]> {
    const local = this.selected(only).filter((s) => !this.isExternal(s.name));
    if (local.length > 0) {
      await mkdir(this.config.stateDir, { recursive: true });
      await checkJava();
      const started = await this.withLock(async () => {
        const toStart = local.filter((s) => !isRunning(readRecord(s.pidFile)));
        await this.checkPorts(toStart);
        await Promise.all(toStart.map((s) => this.start(s)));
        return toStart;
      });
      const ready = await Promise.allSettled(local.map((s) => this.waitReady(s)));
      const failed = ready.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // Leave nothing half-started behind: what this call started and did not come up is stopped.
        await this.down(started.map((s) => s.name));
        throw failed.reason;
      }
    }
    return this.status(only);
  }

  /** Stops the processes this state folder started, by pid: SIGTERM, then wait. */
  async down(only?: ServiceName[]): Promise<{ name: ServiceName; result: string }[]> {
    const results = await Promise.all(
      this.selected(only)
        .filter((s) => !this.isExternal(s.name))
        .map(async (s) => {
          const record = readRecord(s.pidFile);
          if (record === undefined) return { name: s.name, result: 'not running' };
          const result = await stopProcess(record, s.pidFile, this.config.infra.stopTimeoutMs);
          await Promise.all(s.ports.map((p) => waitPortFree(p.port, 10_000)));
          this.log.info({ service: s.name, pid: record.pid, result }, `${s.name} ${result}`);
          return {
            name: s.name,
            result: result === 'killed' ? `killed (did not stop within ${this.config.infra.stopTimeoutMs} ms of SIGTERM)` : result,
          };
        }),
    );
    return results;
  }

  async status(only?: ServiceName[]): Promise<ServiceStatus[]> {
    return Promise.all(
      this.selected(only).map(async (s): Promise<ServiceStatus> => {
        if (this.isExternal(s.name)) {
          const address =
            s.name === 'kafka' ? (this.config.kafka.brokers ?? []).join(',') : (this.config.cassandra.contactPoints ?? []).join(',');
          const health = await this.externalHealth(s.name);
          return { name: s.name, mode: 'external', address, running: health.healthy, ...health };
        }
        const record = readRecord(s.pidFile);
        const running = isRunning(record);
        const health = running ? await this.health(s) : { healthy: false, detail: 'not running' };
        return {
          name: s.name,
          mode: 'local',
          address: s.address,
          ...(running ? { pid: record?.pid } : {}),
          running,
          ...health,
          logFile: s.logFile,
        };
      }),
    );
  }

  /** The last lines of each service's log. */
  logs(lines: number, only?: ServiceName[]): { name: ServiceName; file: string; text: string }[] {
    return this.selected(only).map((s) => ({
      name: s.name,
      file: s.logFile,
      text: existsSync(s.logFile) ? lastLines(readFileSync(s.logFile, 'utf8'), lines) : '(no log yet)',
    }));
  }

  logFiles(only?: ServiceName[]): string[] {
    return this.selected(only).flatMap((s) => [s.logFile, s.consoleFile]);
  }

  /** Probes the configured cluster itself (never the local ports, which may run something else). */
  private async externalHealth(name: ServiceName): Promise<{ healthy: boolean; detail: string }> {
    try {
      if (name === 'kafka')
        return {
          healthy: true,
          detail: `${(await checkKafkaReachable(this.config, this.log.child({}, { level: 'silent' }))).length} topics`,
        };
      return { healthy: true, detail: `Cassandra ${await checkCassandraReachable(this.config)}` };
    } catch (err) {
      return { healthy: false, detail: (err as Error).message.split('\n')[0] ?? 'unhealthy' };
    }
  }

  private async health(s: LocalService): Promise<{ healthy: boolean; detail: string }> {
    try {
      return { healthy: true, detail: await s.probe() };
    } catch (err) {
      return { healthy: false, detail: (err as Error).message.split('\n')[0] ?? 'unhealthy' };
    }
  }

  private async checkPorts(services: LocalService[]): Promise<void> {
    for (const s of services) {
      for (const { name, port } of s.ports) {
        if (!(await isPortFree(port))) {
          const key = configKeyForPort(name);
          throw new MeterflowError(
            'MF_PORT_IN_USE',
            `port ${port} (${name}) is already in use by another process: stop it (see \`ss -ltnp 'sport = :${port}'\`) or choose another port with ${key} (environment: ${envName(key)})`,
            { details: { port, service: s.name, key } },
          );
        }
      }
    }
  }

  private async start(s: LocalService): Promise<void> {
    const version = s.name === 'kafka' ? this.config.infra.kafka.version : this.config.infra.cassandra.version;
    const jars = await ensureJars(this.config.cacheDir, s.name, version, this.log);
    await s.prepare(jars);
    const { command, args } = s.command(jars);
    const record = await startDetached({ command, args, cwd: s.dir, logFile: s.consoleFile, pidFile: s.pidFile, marker: s.marker });
    this.log.info({ service: s.name, pid: record.pid, logs: s.logFile }, `started ${s.name}`);
  }

  private async waitReady(s: LocalService): Promise<void> {
    const started = Date.now();
    const deadline = started + this.config.infra.readyTimeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      const record = readRecord(s.pidFile);
      if (!isRunning(record)) {
        throw new MeterflowError('MF_SERVICE_EXITED', `${s.name} exited during start-up; last log lines:\n${this.tail(s)}`, {
          details: { service: s.name, logFile: s.logFile, consoleFile: s.consoleFile },
        });
      }
      try {
        await s.probe();
        this.log.info({ service: s.name, address: s.address, ms: Date.now() - started }, `${s.name} ready`);
        return;
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    throw new MeterflowError(
      'MF_SERVICE_NOT_READY',
      `${s.name} did not become ready within ${this.config.infra.readyTimeoutMs} ms (infra.readyTimeoutMs); last probe error: ${(lastError as Error)?.message}; last log lines:\n${this.tail(s)}`,
      { details: { service: s.name, logFile: s.logFile } },
    );
  }

  private tail(s: LocalService): string {
    const parts = [s.logFile, s.consoleFile].filter((f) => existsSync(f)).map((f) => `--- ${f}\n${lastLines(readFileSync(f, 'utf8'), 20)}`);
    return parts.join('\n') || '(no log written)';
  }

  /** One `up` at a time per state folder: a second concurrent `up` would start a second JVM. */
  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = join(this.config.stateDir, 'infra.lock');
    for (let attempt = 0; ; attempt++) {
      try {
        await writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
        break;
      } catch {
        const holder = Number(readFileSync(lock, 'utf8').trim());
        if (!Number.isInteger(holder) || !alive(holder)) {
          await rm(lock, { force: true });
          continue;
        }
        if (attempt > 600) throw new MeterflowError('MF_SERVICE_NOT_READY', `another meterflow process (pid ${holder}) holds ${lock}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function configKeyForPort(portName: string): string {
  return (
    {
      kafka: 'infra.kafka.port',
      'kafka-controller': 'infra.kafka.controllerPort',
      'cassandra-native': 'infra.cassandra.nativePort',
      'cassandra-storage': 'infra.cassandra.storagePort',
    }[portName] ?? portName
  );
}

/** infra.kafka.controllerPort → METERFLOW_INFRA__KAFKA__CONTROLLER_PORT */
export function envName(key: string): string {
  return `METERFLOW_${key
    .split('.')
    .map((p) => p.replace(/([A-Z])/g, '_$1').toUpperCase())
    .join('__')}`;
}
