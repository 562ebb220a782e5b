import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { checkCassandraReachable, createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { MeterflowError } from '../../core/errors.ts';
import { checkKafkaReachable, createKafka } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { MeterRegistryStore } from '../../core/meter-registry.ts';
import { createIngestPipeline } from '../../ingest/pipeline/create-pipeline.ts';
import type { Meter } from '../../schemas/reading.ts';
import { buildApp } from '../app.ts';
import { CassandraKeyStore } from '../auth/cassandra-key-store.ts';
import { LiveHub } from '../live/live-hub.ts';
import { startTopicFeed, type TopicFeed } from '../live/topic-feed.ts';
import { PipelineStatus } from '../pipeline/pipeline-status.ts';
import { createQuerySources } from '../query/create-sources.ts';
import { dashboardRoutes } from '../routes/dashboard-routes.ts';
import { liveRoutes } from '../routes/live-routes.ts';
import { pipelineRoutes } from '../routes/pipeline-routes.ts';
import { totalsRoutes } from '../routes/totals-routes.ts';
import { viewRoutes } from '../routes/view-routes.ts';
import { kafkaOffsetsReader } from './kafka-offsets.ts';
import { cassandraProbe, kafkaProbe, sharedAdmin } from './probes.ts';
import { startRegistryRefresh } from './registry-refresh.ts';
import { RenewingIngest } from './renewing-ingest.ts';

const PIPELINE_SAMPLE_MS = 5_000;

export interface RunningServer {
  app: FastifyInstance;
  /** The view-change feed (tests wait for `feed.ready` before producing). */
  feed: TopicFeed;
  url: string;
  /** Stops accepting, lets in-flight requests finish, flushes the pipeline, disconnects. */
  close(): Promise<void>;
}

/**
 * Everything `meterflow serve` runs, wired from real services: Cassandra (keys, meter registry),
 * Kafka (ingest pipeline), the registry refresh, and the app listening on serving.host:port.
 */
export async function startServer(config: Config, log: Logger, options: { routes?: FastifyPluginAsync[] } = {}): Promise<RunningServer> {
  // Fail fast, naming the unreachable cluster and where it was configured.
  await Promise.all([checkKafkaReachable(config, log), checkCassandraReachable(config)]);
  const cassandra = createCassandra(config);
  const kafka = createKafka(config, log);
  const kafkaReady = kafkaProbe(kafka);
  const admin = sharedAdmin(kafka);
  const cleanups: (() => Promise<unknown>)[] = [() => cassandra.shutdown(), () => kafkaReady.close(), () => admin.close()];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log.warn({ err }, 'shutdown step failed'));
  };
  try {
    await cassandra.connect();
    const keyStore = new CassandraKeyStore(cassandra);
    await keyStore.anyExist().catch((cause: unknown) => {
      throw new MeterflowError(
        'MF_MIGRATION_FAILED',
        `cannot read the api_keys table; run \`meterflow migrate\`: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    });

    const registry = new MeterRegistryStore(cassandra);
    // The validation context reads this Map; the refresh updates it in place.
    const meters: Map<string, Meter> = await registry.asMap();
    const refresh = startRegistryRefresh(() => registry.asMap(), meters, config.serving.registryRefreshMs, log);
    cleanups.push(async () => refresh.stop());

    const ingest = new RenewingIngest(() => createIngestPipeline(config, log, meters), log);
    cleanups.push(() => ingest.close());
    await ingest.start();

    const sources = createQuerySources(config, cassandra, { partitions: await readingsPartitions(config, admin, log) });
    const hub = new LiveHub();
    const feed = await startTopicFeed(config, kafka, hub, log);
    cleanups.push(() => feed.close());
    const status = new PipelineStatus({
      sources,
      offsets: kafkaOffsetsReader(admin, config),
      topics: { readings: config.kafka.topics.readings.name, deadLetters: config.kafka.topics.deadLetters.name },
      deadLetters: () => ({ total: feed.deadLetters.total, byReason: Object.fromEntries(feed.deadLetters.byReason) }),
    });
    // Samples between status calls, so readings/s is known at the first page load after a while.
    const sampler = setInterval(() => void status.sample().catch(() => {}), PIPELINE_SAMPLE_MS);
    sampler.unref();
    cleanups.push(async () => clearInterval(sampler));

    const app = await buildApp({
      config,
      log,
      keyStore,
      probes: { kafka: kafkaReady, cassandra: cassandraProbe(cassandra) },
      ingest,
      pages: [dashboardRoutes()],
      routes: [
        viewRoutes(sources),
        totalsRoutes(sources, () => meters.values()),
        liveRoutes(hub),
        pipelineRoutes(status),
        ...(options.routes ?? []),
      ],
    });
    // Closed first: no new requests, in-flight ones finish, then the pipeline flushes.
    cleanups.push(() => app.close());
    const url = await app.listen({ host: config.serving.host, port: config.serving.port }).catch((cause: NodeJS.ErrnoException) => {
      if (cause.code !== 'EADDRINUSE' && cause.code !== 'EACCES') throw cause;
      throw new MeterflowError(
        'MF_PORT_IN_USE',
        `cannot listen on ${config.serving.host}:${config.serving.port} (${cause.code}); set serving.port (METERFLOW_SERVING__PORT) to a free port`,
        { cause },
      );
    });
    log.info({ url, meters: meters.size }, 'serving');
    return { app, url, feed, close: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * The readings topic's partition count as Kafka has it: a speed generation is complete only when
 * every partition is caught up, and the topic may have been created with another count than this
 * process's config says. Kafka unreachable here: the config's count, with a warning.
 */
async function readingsPartitions(config: Config, admin: ReturnType<typeof sharedAdmin>, log: Logger): Promise<number> {
  const topic = config.kafka.topics.readings.name;
  try {
    const partitions = (await admin.run((a) => a.fetchTopicOffsets(topic))).length;
    if (partitions !== config.kafka.topics.readings.partitions) {
      log.warn(
        { topic, partitions, configured: config.kafka.topics.readings.partitions },
        "the readings topic has another partition count than configured; using Kafka's",
      );
    }
    return partitions;
  } catch (err) {
    log.warn({ err, topic }, "cannot read the readings topic's partitions from Kafka; using kafka.topics.readings.partitions");
    return config.kafka.topics.readings.partitions;
  }
}
