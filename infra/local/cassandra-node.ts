import { readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkCassandraReachable } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import type { LocalService } from './service.ts';

/**
 * One Cassandra 5.0 node on 127.0.0.1. Durability settings are Cassandra's own defaults (periodic
 * commit-log sync, no unsafe system keyspace): the kill tests depend on the node behaving like a
 * real one.
 */
export function cassandraNode(config: Config): LocalService {
  const { nativePort, storagePort, heapMb } = config.infra.cassandra;
  const dir = join(config.stateDir, 'cassandra');
  const logsDir = join(dir, 'logs');
  const dataDir = join(dir, 'data');
  const yamlFile = join(dir, 'cassandra.yaml');
  const logbackFile = join(dir, 'logback.xml');
  const marker = `-Dmeterflow.service=${dir}`;

  return {
    name: 'cassandra',
    dir,
    pidFile: join(dir, 'cassandra.pid'),
    logFile: join(logsDir, 'system.log'),
    consoleFile: join(logsDir, 'console.log'),
    marker,
    ports: [
      { name: 'cassandra-native', port: nativePort },
      { name: 'cassandra-storage', port: storagePort },
    ],
    address: `127.0.0.1:${nativePort}`,

    async prepare() {
      await mkdir(logsDir, { recursive: true });
      await mkdir(dataDir, { recursive: true });
      await writeFile(yamlFile, cassandraYaml({ nativePort, storagePort, dataDir }));
      await writeFile(logbackFile, logbackXml(logsDir));
    },

    command(jarsDir) {
      const jamm = readdirSync(jarsDir).find((f) => /^jamm-.*\.jar$/.test(f));
      return {
        command: 'java',
        args: [
          `-Xms${heapMb}m`,
          `-Xmx${heapMb}m`,
          ...JVM17_OPTIONS,
          ...(jamm ? [`-javaagent:${join(jarsDir, jamm)}`] : []),
          marker,
          `-Dcassandra.config=file://${yamlFile}`,
          '-Dcassandra-foreground=yes',
          `-Dcassandra.storagedir=${dataDir}`,
          `-Dcassandra.logdir=${logsDir}`,
          `-Dlogback.configurationFile=file://${logbackFile}`,
          // One node: nothing to gossip with, so don't wait for gossip to settle.
          '-Dcassandra.skip_wait_for_gossip_to_settle=0',
          '-Dcassandra.initial_token=0',
          '-Djava.net.preferIPv4Stack=true',
          '-cp',
          `${jarsDir}/*`,
          'org.apache.cassandra.service.CassandraDaemon',
        ],
      };
    },

    async probe() {
      const probeConfig = { ...config, cassandra: { ...config.cassandra, contactPoints: [`127.0.0.1:${nativePort}`] } };
      return `Cassandra ${await checkCassandraReachable(probeConfig)}`;
    },
  };
}

/** From Cassandra's own conf/jvm17-server.options (GC and module access for JDK 17). */
const JVM17_OPTIONS = [
  '-XX:+UseG1GC',
  '-XX:+ParallelRefProcEnabled',
  '-XX:MaxTenuringThreshold=1',
  '-XX:G1RSetUpdatingPauseTimePercent=5',
  '-XX:MaxGCPauseMillis=300',
  '-XX:InitiatingHeapOccupancyPercent=70',
  '-XX:+HeapDumpOnOutOfMemoryError',
  '-Xss256k',
  '-Djdk.attach.allowAttachSelf=true',
  '--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED',
  '--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED',
  '--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED',
  '--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED',
  '--add-exports=java.sql/java.sql=ALL-UNNAMED',
  '--add-exports=java.base/java.lang.ref=ALL-UNNAMED',
  '--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED',
  '--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED',
  '--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED',
  '--add-opens=java.base/java.lang.module=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.math=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.module=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED',
  '--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED',
  '--add-opens=java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens=java.base/java.io=ALL-UNNAMED',
  '--add-opens=java.base/java.lang.reflect=ALL-UNNAMED',
  '--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED',
  '--add-opens=java.base/java.lang=ALL-UNNAMED',
  '--add-opens=java.base/java.util=ALL-UNNAMED',
  '--add-opens=java.base/java.nio=ALL-UNNAMED',
  '-Dio.netty.tryReflectionSetAccessible=true',
  '-Dio.netty.allocator.useCacheForAllThreads=true',
  '-Dio.netty.allocator.maxOrder=11',
];

function cassandraYaml(p: { nativePort: number; storagePort: number; dataDir: string }): string {
  return `# Written by meterflow infra; edits are overwritten at the next \`infra up\`.
cluster_name: meterflow-local
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: ${p.storagePort}
native_transport_port: ${p.nativePort}
start_native_transport: true
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:${p.storagePort}"
commitlog_sync: periodic
commitlog_sync_period: 10000ms
data_file_directories:
  - ${p.dataDir}/data
commitlog_directory: ${p.dataDir}/commitlog
saved_caches_directory: ${p.dataDir}/saved_caches
hints_directory: ${p.dataDir}/hints
cdc_raw_directory: ${p.dataDir}/cdc_raw
# Snapshots on TRUNCATE/DROP fill the disk of a test machine quickly.
auto_snapshot: false
# Lightweight transactions (job leases) and logged batches (speed-layer flushes) are used.
batch_size_warn_threshold: 64KiB
batch_size_fail_threshold: 640KiB
concurrent_reads: 8
concurrent_writes: 16
concurrent_counter_writes: 8
`;
}

function logbackXml(logsDir: string): string {
  return `<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>${logsDir}/system.log</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>${logsDir}/system.log.%i.zip</fileNamePattern>
      <minIndex>1</minIndex>
      <maxIndex>3</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>20MB</maxFileSize>
    </triggeringPolicy>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
`;
}
