import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../../core/config.ts';
import { MeterflowError } from '../../core/errors.ts';
import { checkKafkaReachable } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import type { LocalService } from './service.ts';

const run = promisify(execFile);

/** One combined broker+controller KRaft node, sized for a small machine. */
export function kafkaNode(config: Config, log: Logger): LocalService {
  const { port, controllerPort, heapMb } = config.infra.kafka;
  const dir = join(config.stateDir, 'kafka');
  const logsDir = join(dir, 'logs');
  const dataDir = join(dir, 'data');
  const propsFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j.properties');
  const marker = `-Dmeterflow.service=${dir}`;

  const javaLogging = [`-Dlog4j.configuration=file:${log4jFile}`, `-Dkafka.logs.dir=${logsDir}`];

  return {
    name: 'kafka',
    dir,
    pidFile: join(dir, 'kafka.pid'),
    logFile: join(logsDir, 'server.log'),
    consoleFile: join(logsDir, 'console.log'),
    marker,
    ports: [
      { name: 'kafka', port },
      { name: 'kafka-controller', port: controllerPort },
    ],
    address: `127.0.0.1:${port}`,

    async prepare(jarsDir) {
      await mkdir(logsDir, { recursive: true });
      await mkdir(dataDir, { recursive: true });
      await writeFile(propsFile, serverProperties({ port, controllerPort, dataDir }));
      await writeFile(log4jFile, LOG4J);
      const idFile = join(dir, 'cluster-id');
      if (!existsSync(idFile)) await writeFile(idFile, `${kafkaClusterId()}\n`);
      const clusterId = (await readFile(idFile, 'utf8')).trim();
      // -g: a second format of already formatted storage is a no-op.
      try {
        await run('java', [
          '-cp',
          `${jarsDir}/*`,
          ...javaLogging,
          'kafka.tools.StorageTool',
          'format',
          '-t',
          clusterId,
          '-c',
          propsFile,
          '-g',
        ]);
      } catch (cause) {
        const out = cause as { stdout?: string; stderr?: string };
        throw new MeterflowError('MF_SERVICE_NOT_READY', `could not format Kafka storage in ${dataDir}: ${out.stderr || out.stdout}`, {
          cause,
        });
      }
      log.debug({ dir }, 'kafka storage ready');
    },

    command(jarsDir) {
      return {
        command: 'java',
        args: [
          `-Xms${heapMb}m`,
          `-Xmx${heapMb}m`,
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          '-XX:InitiatingHeapOccupancyPercent=35',
          '-XX:+ExplicitGCInvokesConcurrent',
          '-Djava.awt.headless=true',
          marker,
          ...javaLogging,
          '-cp',
          `${jarsDir}/*`,
          'kafka.Kafka',
          propsFile,
        ],
      };
    },

    async probe() {
      const probeConfig = { ...config, kafka: { ...config.kafka, brokers: [`127.0.0.1:${port}`], connectionTimeoutMs: 1_000 } };
      const silent = log.child({}, { level: 'silent' });
      const topics = await checkKafkaReachable(probeConfig, silent);
      return `${topics.length} topics`;
    },
  };
}

/** KRaft cluster ids are 16 random bytes in URL-safe base64 without padding (22 characters). */
function kafkaClusterId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
}

function serverProperties(p: { port: number; controllerPort: number; dataDir: string }): string {
  return `# Written by meterflow infra; edits are overwritten at the next \`infra up\`.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${p.controllerPort}
listeners=PLAINTEXT://127.0.0.1:${p.port},CONTROLLER://127.0.0.1:${p.controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${p.port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${p.dataDir}
# meterflow creates its topics with \`migrate\`; a typo in a topic name must not create a new one.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
# Two cores: few threads, small cleaner buffer (the view-change topic is compacted).
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.segment.bytes=134217728
log.retention.check.interval.ms=60000
`;
}

const LOG4J = `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=\${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
`;
