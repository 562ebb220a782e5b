import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * The whole configuration of meterflow, one typed object. Every object is strict (unknown keys are
 * errors, so a typo never silently falls back to a default) and every default lives here.
 * Components read their own sub-object; nothing else reads the environment.
 */

const port = z.number().int().min(1).max(65535);
const hostPort = z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9092');
/** Lists may be given as arrays (file) or as comma-separated strings (environment). */
const list = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(item).min(1),
  );

const topic = (name: string, partitions: number, retentionMs: number, cleanupPolicy: 'delete' | 'compact') =>
  z
    .strictObject({
      name: z
        .string()
        .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a Kafka topic name: letters, digits, ".", "_", "-"')
        .default(name),
      partitions: z.number().int().min(1).max(10_000).default(partitions),
      /** -1 keeps messages forever. */
      retentionMs: z.number().int().min(-1).default(retentionMs),
      cleanupPolicy: z.enum(['delete', 'compact']).default(cleanupPolicy),
    })
    .prefault({});

const DAY = 86_400_000;

export const configSchema = z.strictObject({
  /** Where local services keep data, logs and pid files. */
  stateDir: z.string().min(1).default('.meterflow'),
  /** Where downloaded Kafka and Cassandra jars are kept across clones and runs. */
  cacheDir: z
    .string()
    .min(1)
    .default(join(homedir(), '.cache', 'meterflow')),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .prefault({}),
  kafka: z
    .strictObject({
      /** Set (or KAFKA_BROKERS) to use an existing cluster; then `infra up` starts no Kafka. */
      brokers: list(hostPort).optional(),
      clientId: z.string().min(1).default('meterflow'),
      connectionTimeoutMs: z.number().int().min(100).default(3_000),
      /** Replication of the topics that `migrate` creates (1 for a single local broker). */
      replicationFactor: z.number().int().min(1).max(16).default(1),
      topics: z
        .strictObject({
          // Readings are kept long enough for a new speed generation to replay from the
          // offsets of the last batch run; the archive is the permanent copy.
          readings: topic('meterflow.readings', 6, 7 * DAY, 'delete'),
          deadLetters: topic('meterflow.dead-letters', 3, 30 * DAY, 'delete'),
          // Compacted: consumers that start late still see the latest value of every key.
          viewChanges: topic('meterflow.view-changes', 6, -1, 'compact'),
        })
        .prefault({}),
    })
    .prefault({}),
  cassandra: z
    .strictObject({
      /** Set (or CASSANDRA_CONTACT_POINTS) to use an existing cluster; then `infra up` starts no Cassandra. */
      contactPoints: list(hostPort).optional(),
      localDataCenter: z.string().min(1).default('datacenter1'),
      keyspace: z
        .string()
        .regex(/^[a-z][a-z0-9_]{0,47}$/, 'a Cassandra keyspace name: lower-case letters, digits, "_"')
        .default('meterflow'),
      replication: z
        .discriminatedUnion('class', [
          z.strictObject({
            class: z.literal('SimpleStrategy'),
            replicationFactor: z.number().int().min(1).max(16).default(1),
          }),
          z.strictObject({
            class: z.literal('NetworkTopologyStrategy'),
            dataCenters: z.record(z.string().min(1), z.number().int().min(1).max(16)),
          }),
        ])
        .default({ class: 'SimpleStrategy', replicationFactor: 1 }),
      /** Folder of versioned CQL migrations, applied in order by `migrate`. */
      migrationsDir: z.string().min(1).optional(),
      requestTimeoutMs: z.number().int().min(100).default(12_000),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      /** kafkajs is pure JavaScript; rdkafka (node-rdkafka, optional dependency) is faster. */
      transport: z.enum(['kafkajs', 'rdkafka']).default('kafkajs'),
      /** Readings per produce request. */
      batchSize: z.number().int().min(1).max(100_000).default(2_000),
      /** Produce requests awaiting acknowledgement before the source is paused (back-pressure). */
      maxInFlightBatches: z.number().int().min(1).max(64).default(4),
      compression: z.enum(['none', 'gzip']).default('none'),
      /** How far past now an interval may end before it is FUTURE_TIMESTAMP (meter clock drift). */
      futureToleranceMs: z
        .number()
        .int()
        .min(0)
        .default(5 * 60_000),
      /** Readings older than this are TOO_OLD. */
      retentionDays: z.number().int().min(1).max(36_500).default(400),
    })
    .prefault({}),
  serving: z
    .strictObject({
      /** The API listens here; 127.0.0.1 keeps a fresh install off the network until someone decides otherwise. */
      host: z.string().min(1).default('127.0.0.1'),
      /** 0: any free port (printed at start). */
      port: z.number().int().min(0).max(65535).default(8080),
      /** Largest request body accepted, bytes; a bigger one is refused with 413 before it is read. */
      bodyLimitBytes: z
        .number()
        .int()
        .min(1_024)
        .max(256 * 1_048_576)
        .default(4 * 1_048_576),
      /** Readings per POST /v1/readings request (JSON array items or NDJSON lines). */
      maxReadingsPerRequest: z.number().int().min(1).max(100_000).default(10_000),
      auth: z
        .strictObject({
          /**
           * true: every data and ingest endpoint needs an API key, even before any key exists.
           * false: endpoints are open only until the first key is created (a fresh local install);
           * from then on a key is required (revoking every key does not reopen them).
           */
          required: z.boolean().default(true),
          /** How long a key lookup is cached in memory; a revocation takes effect within this time. */
          cacheTtlMs: z.number().int().min(0).max(3_600_000).default(10_000),
        })
        .prefault({}),
      rateLimit: z
        .strictObject({
          /** Requests per key (or per client address without a key) per time window. */
          max: z.number().int().min(1).default(600),
          timeWindowMs: z.number().int().min(100).default(60_000),
        })
        .prefault({}),
      cache: z
        .strictObject({
          /**
           * Buckets kept in memory by each query cache (batch rows, merged answers); about 200 bytes
           * a bucket. 0 turns caching off: every query reads DuckDB and Cassandra.
           */
          maxBuckets: z.number().int().min(0).default(1_000_000),
          /**
           * How old a read of the speed layer's checkpoints may be and still answer a query. Every
           * answer names the offsets it includes, so this only bounds how far behind the speed layer
           * it may be (on top of speed.flushIntervalMs); 0: each query waits for a fresh read.
           */
          checkpointMaxAgeMs: z.number().int().min(0).max(10_000).default(100),
        })
        .prefault({}),
      /** How often the meter registry is re-read, so newly imported meters are accepted without a restart. */
      registryRefreshMs: z.number().int().min(1_000).default(30_000),
      /** Time limit of each readiness probe (Kafka, Cassandra) behind GET /ready. */
      probeTimeoutMs: z.number().int().min(100).default(2_000),
      /** On SIGTERM/SIGINT: how long in-flight requests and the pipeline flush may take before exit. */
      shutdownTimeoutMs: z.number().int().min(100).default(15_000),
    })
    .prefault({}),
  speed: z
    .strictObject({
      /** Consumer group of the speed layer; every speed process of one deployment shares it. */
      groupId: z.string().min(1).default('meterflow-speed'),
      /** How often folded partials are written to Cassandra (and view changes published). */
      flushIntervalMs: z.number().int().min(10).max(60_000).default(500),
      /** Flush interval while a partition is catching up (fewer rewrites of the same rows; checkpoints move in larger steps). */
      catchUpFlushIntervalMs: z.number().int().min(10).max(60_000).default(3_000),
      /** Cassandra writes in flight per flush. */
      writeConcurrency: z.number().int().min(1).max(1_024).default(32),
      /**
       * Consumer-group session timeout: how long a dead speed process keeps its partitions before
       * the group hands them to another. Heartbeats keep flowing during flushes (they are async).
       */
      sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(30_000),
      /** How long a stopping speed process waits for the Kafka consumer to leave the group before it exits anyway. */
      stopTimeoutMs: z.number().int().min(100).default(15_000),
      /** How long a starting speed process waits for Cassandra (retrying) before it gives up. */
      startupTimeoutMs: z.number().int().min(0).default(120_000),
      /** How often the meter registry and the batch generation are re-read. */
      refreshIntervalMs: z.number().int().min(100).default(5_000),
      /** TTL of speed rows (0: none). Set it well above the batch cadence as a safety net for rows of retired generations. */
      rowTtlSeconds: z.number().int().min(0).default(0),
      /** Back-off bounds while Cassandra is unavailable (the consumer stays paused meanwhile). */
      retryMinMs: z.number().int().min(10).default(200),
      retryMaxMs: z.number().int().min(100).default(10_000),
    })
    .prefault({}),
  batch: z
    .strictObject({
      /** Folder of the master dataset (`master/`) and the batch views (`views/`); default `<stateDir>/batch`. */
      dataDir: z.string().min(1).optional(),
      archive: z
        .strictObject({
          /** Prefix of the archiver's consumer group, one per run (offsets come from the master manifest, never from commits). */
          groupId: z.string().min(1).default('meterflow-archiver'),
          /** A partition's buffer is written as one Parquet file once it holds this many readings... */
          flushReadings: z.number().int().min(1).max(10_000_000).default(500_000),
          /** ...or once its oldest buffered reading is this old (continuous mode). */
          flushIntervalMs: z.number().int().min(100).default(300_000),
        })
        .prefault({}),
      recompute: z
        .strictObject({
          /** DuckDB memory_limit of a batch run; beyond it DuckDB spills to `<dataDir>/tmp`. */
          memoryLimit: z
            .string()
            .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/, 'a size such as 2GB or 512MiB')
            .default('2GB'),
          /** DuckDB threads (0: DuckDB's default, one per core). */
          threads: z.number().int().min(0).max(256).default(0),
        })
        .prefault({}),
      changes: z
        .strictObject({
          /**
           * Grains whose per-key differences to the previous version are published as ViewChange
           * events (cause BATCH_PUBLISHED) when a version is published. Fine grains multiply the
           * events by 24-96 per day; downstream billing and alerting mostly want days and months.
           */
          grains: z
            .array(z.enum(['15m', 'hour', 'day', 'month', 'local-day', 'local-month']))
            .default(['day', 'month', 'local-day', 'local-month']),
          /** A measure counts as changed when it differs by more than this (DuckDB sums are not bit-stable). */
          tolerance: z.number().min(0).default(1e-9),
        })
        .prefault({}),
      gc: z
        .strictObject({
          /** Complete batch versions kept by `batch gc` (the current one is always kept). */
          keepVersions: z.number().int().min(1).max(1_000).default(3),
          /** Unreferenced master files and unfinished version folders younger than this are left alone (a run may be writing them). */
          orphanMinAgeMs: z.number().int().min(0).default(3_600_000),
        })
        .prefault({}),
      jobs: z
        .strictObject({
          /** Cron expressions (croner syntax, seconds optional) of `meterflow jobs start`; "off" disables one. */
          archive: z.string().min(1).default('*/10 * * * *'),
          /** Incremental batch run: only the buckets touched by readings archived since the served version. */
          recompute: z.string().min(1).default('20 * * * *'),
          /** Full batch run (everything from the whole master dataset): weekly, Sunday 02:50. */
          recomputeFull: z.string().min(1).default('50 2 * * 0'),
          gc: z.string().min(1).default('40 3 * * *'),
          /** A job's lease lives this long unless renewed (renewed every third of it while the job runs). */
          leaseTtlSeconds: z.number().int().min(2).max(86_400).default(120),
        })
        .prefault({}),
    })
    .prefault({}),
  /** `meterflow up`: the supervised pipeline on one machine and its demo data feed. */
  pipeline: z
    .strictObject({
      /** The real meter data replayed at start: `lcl-2013/` (readings) and `lcl-2013-households.csv` (the registry). */
      dataDir: z.string().min(1).default('../shared/data'),
      /**
       * Pace of the replay: a speed-up such as 100000x replays all meters at once in reading-time
       * order (a year in about 5 minutes, so the history fills in chronologically, at about what a
       * 2-core machine ingests); fast sends file after file as fast as possible.
       */
      replaySpeedup: z
        .string()
        .regex(/^(fast|realtime|\d+(\.\d+)?x)$/, 'fast, realtime or a speed-up such as 100000x')
        .default('100000x'),
      /** Simulated meters producing live readings after the replay (0: none). */
      simulateMeters: z.number().int().min(0).max(1_000_000).default(100),
      /** A crashed component is restarted after minBackoffMs, doubled per crash in a row, capped at maxBackoffMs. */
      minBackoffMs: z.number().int().min(10).default(1_000),
      maxBackoffMs: z.number().int().min(10).default(30_000),
      /**
       * More restarts than this within crashLoopWindowMs: the component is given up and reported
       * failed. Generous on purpose: an archiver killed outright leaves its job lease behind for
       * batch.jobs.leaseTtlSeconds (120 s), and its restarts fail until the lease expires.
       */
      crashLoopRestarts: z.number().int().min(0).default(10),
      crashLoopWindowMs: z.number().int().min(1_000).default(300_000),
      /** After SIGTERM, how long a component may take to stop (final flushes) before SIGKILL. */
      stopTimeoutMs: z.number().int().min(100).default(20_000),
      /** How long `up` waits for the API to answer /ready. */
      readyTimeoutMs: z.number().int().min(1_000).default(120_000),
    })
    .prefault({}),
  infra: z
    .strictObject({
      kafka: z
        .strictObject({
          version: z
            .string()
            .regex(/^3\.9\.\d+$/, 'a Kafka 3.9.x version')
            .default('3.9.1'),
          port: port.default(9092),
          controllerPort: port.default(9093),
          heapMb: z.number().int().min(256).max(16_384).default(768),
        })
        .prefault({}),
      cassandra: z
        .strictObject({
          version: z
            .string()
            .regex(/^5\.0\.\d+$/, 'a Cassandra 5.0.x version')
            .default('5.0.5'),
          nativePort: port.default(9042),
          storagePort: port.default(7000),
          heapMb: z.number().int().min(512).max(16_384).default(1_024),
        })
        .prefault({}),
      readyTimeoutMs: z.number().int().min(1_000).default(180_000),
      stopTimeoutMs: z.number().int().min(1_000).default(60_000),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type TopicConfig = Config['kafka']['topics']['readings'];
