import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type { CassandraClient } from '../core/cassandra.ts';
import type { Config } from '../core/config.ts';
import { isMeterflowError } from '../core/errors.ts';
import { GenerationStore } from '../core/generation-store.ts';
import type { Logger } from '../core/logger.ts';
import { MeterRegistryStore } from '../core/meter-registry.ts';
import { retryUntil } from '../core/retry.ts';
import { decodeReading, encodeDeadLetter } from '../schemas/avro/codec.ts';
import type { Generation } from '../schemas/generation.ts';
import type { Meter } from '../schemas/reading.ts';
import { uncountableReason, VIEWS, type ViewDefinition } from '../schemas/views/index.ts';
import { speedMetrics } from './metrics.ts';
import { PartitionWorker, type PendingFlush } from './partition-worker.ts';
import { type SpeedCheckpoint, SpeedStore } from './store/speed-store.ts';
import { publishViewChanges } from './view-change-publisher.ts';

export interface SpeedLayerOptions {
  config: Config;
  log: Logger;
  kafka: Kafka;
  cassandra: CassandraClient;
  views?: readonly ViewDefinition[];
  /** The consumer crashed and kafkajs will not restart it: the process should exit (and be restarted). */
  onFatal?: (err: Error) => void;
}

/**
 * `meterflow speed`: a consumer group over the readings topic that folds readings into every
 * view and writes absolute partials to Cassandra.
 *
 * Exactly once, in effect:
 * - on assignment a partition is read again from its generation's start offset (B[p] + 1), so
 *   the in-memory fold is a function of the log, never of what happened to die with a process;
 * - each flush writes the rows, then the checkpoint, each USING TIMESTAMP offset + 1: a replayed
 *   or stale write never replaces a newer one, and a rewrite of the same offset is a no-op;
 * - a flush that fails is retried, with the consumer paused, until it succeeds: the next flush
 *   never starts before it, so no change is skipped and memory stays bounded.
 * Nothing relies on Kafka consumer-group commits, so a rebalance only moves work.
 */
/** Readings behind the log's end beyond which a partition counts as catching up (see flushDelay). */
const BACKLOG = 5_000;
const NO_OFFSETS = { high: 0, low: 0 };

export class SpeedLayer {
  private readonly config: Config;
  private readonly log: Logger;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly store: SpeedStore;
  private readonly generations: GenerationStore;
  private readonly registry: MeterRegistryStore;
  private readonly views: readonly ViewDefinition[];
  private readonly viewsByName: Map<string, ViewDefinition>;
  private readonly topic: string;
  private readonly workers = new Map<number, PartitionWorker>();
  private meters = new Map<string, Meter>();
  private generation: Generation | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private refreshing: Promise<void> | undefined;
  /** Flushes run one at a time, in order (timer, generation switch, stop). */
  private flushChain: Promise<void> = Promise.resolve();
  private stopped = false;
  private paused = false;
  private readonly admin: ReturnType<Kafka['admin']>;
  private readonly onFatal: ((err: Error) => void) | undefined;

  constructor(o: SpeedLayerOptions) {
    this.onFatal = o.onFatal;
    this.config = o.config;
    this.log = o.log.child({ component: 'speed' });
    this.topic = o.config.kafka.topics.readings.name;
    this.views = o.views ?? VIEWS;
    this.viewsByName = new Map(this.views.map((v) => [v.name, v]));
    this.consumer = o.kafka.consumer({
      groupId: o.config.speed.groupId,
      sessionTimeout: o.config.speed.sessionTimeoutMs,
      rebalanceTimeout: o.config.speed.sessionTimeoutMs,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: 4 * 1024 * 1024,
      retry: { retries: 10 },
    });
    this.producer = o.kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
    this.admin = o.kafka.admin();
    this.store = new SpeedStore(o.cassandra, {
      writeConcurrency: o.config.speed.writeConcurrency,
      rowTtlSeconds: o.config.speed.rowTtlSeconds,
    });
    this.generations = new GenerationStore(o.cassandra);
    this.registry = new MeterRegistryStore(o.cassandra);
  }

  async start(): Promise<void> {
    const retry = { log: this.log, timeoutMs: this.config.speed.startupTimeoutMs };
    this.meters = await retryUntil('reading the meter registry', () => this.registry.asMap(), retry);
    this.generation = await retryUntil('reading the current batch generation', () => this.generations.current(), retry);
    this.log.info({ generation: this.generation.generation, meters: this.meters.size }, 'speed layer starting');
    await Promise.all([this.producer.connect(), this.admin.connect(), this.consumer.connect()]);
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.log.error({ err: e.payload.error?.message, restart: e.payload.restart }, 'Kafka consumer crashed');
      if (!e.payload.restart && !this.stopped) this.onFatal?.(e.payload.error);
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      const assigned = (e.payload.memberAssignment[this.topic] ?? []) as number[];
      void this.assignWithRetry(assigned);
    });
    // Start from the earliest offset when there is no commit (there never is): each partition is
    // then seeked to its generation's start, and anything fetched before the seek is ignored.
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
    this.scheduleFlush();
    this.refreshTimer = setInterval(() => {
      // One refresh at a time; a failed one is logged and tried again at the next tick.
      if (this.refreshing) return;
      this.refreshing = this.refresh()
        .catch((err) => this.log.warn({ err: (err as Error).message }, 'refresh failed'))
        .finally(() => {
          this.refreshing = undefined;
        });
    }, this.config.speed.refreshIntervalMs);
  }

  /** Flushes what is folded, then leaves the group. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.flushTimer);
    clearInterval(this.refreshTimer);
    await this.refreshing;
    // kafkajs's stop can wait on a group rejoin in progress; a process told to stop must not hang
    // on it (what is unflushed is rebuilt by the next owner anyway).
    const stopTimeoutMs = this.config.speed.stopTimeoutMs;
    const stoppedInTime = await Promise.race([
      this.consumer.stop().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), stopTimeoutMs).unref()),
    ]);
    if (!stoppedInTime) this.log.warn({ stopTimeoutMs }, 'consumer did not stop in time; flushing and leaving anyway');
    await this.flushing;
    await this.flushAll().catch((err) => this.log.warn({ err }, 'final flush failed; the next owner will rebuild'));
    await Promise.race([
      Promise.allSettled([this.consumer.disconnect(), this.producer.disconnect(), this.admin.disconnect()]),
      new Promise((r) => setTimeout(r, stopTimeoutMs).unref()),
    ]);
  }

  /** Partitions owned now and how far each is folded (for tests and /ready). */
  status(): { partition: number; generation: number; nextOffset: number; caughtUp: boolean }[] {
    return [...this.workers.values()].map((w) => ({
      partition: w.partition,
      generation: w.generation.generation,
      nextOffset: w.nextOffset,
      caughtUp: w.caughtUp,
    }));
  }

  /** An assignment that fails (metadata, watermarks) is retried: a partition without a worker would never be folded. */
  private async assignWithRetry(partitions: number[]): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.assign(partitions);
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, attempt }, 'assignment failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * attempt)));
      }
    }
  }

  private async assign(partitions: number[]): Promise<void> {
    const keep = new Set(partitions);
    for (const p of this.workers.keys()) if (!keep.has(p)) this.workers.delete(p);
    const fresh = partitions.filter((p) => !this.workers.has(p));
    if (fresh.length === 0 || this.generation === undefined) return;
    // A generation published while this process started (or while it waited for the group) is
    // built now, not after a rebuild of the superseded one.
    const latest = await this.generations.current();
    if (latest.generation > this.generation.generation) await this.switchGeneration(latest);
    const generation = this.generation;
    const [watermarks, checkpoints] = await Promise.all([this.watermarks(), this.checkpointsOf(generation.generation)]);
    for (const p of fresh) this.startWorker(generation, p, watermarks.get(p) ?? NO_OFFSETS, checkpoints.get(p));
    this.log.info(
      { partitions: fresh, generation: generation.generation, resumeFrom: Object.fromEntries(checkpoints) },
      'partitions assigned; rebuilding from the generation start (in memory up to the stored checkpoint)',
    );
  }

  /** The stored checkpoints of a generation, per partition. */
  private async checkpointsOf(generation: number): Promise<Map<number, SpeedCheckpoint>> {
    return new Map((await this.store.checkpoints(generation)).map((c) => [c.partition, c]));
  }

  private startWorker(
    generation: Generation,
    partition: number,
    { high: highWatermark, low }: { high: number; low: number },
    checkpoint?: SpeedCheckpoint,
  ): void {
    // A checkpoint beyond the log's end belongs to another log (a re-created topic): not ours to resume from.
    const resume = checkpoint !== undefined && checkpoint.throughOffset < highWatermark ? checkpoint : undefined;
    if (checkpoint !== undefined && resume === undefined) {
      this.log.warn(
        { partition, checkpoint, highWatermark },
        'stored checkpoint is past the end of the log; rebuilding and rewriting every row',
      );
    }
    const worker = new PartitionWorker(generation, partition, this.views, (id) => this.meters.get(id), highWatermark, resume, low);
    this.workers.set(partition, worker);
    this.consumer.seek({ topic: this.topic, partition, offset: String(worker.startOffset) });
  }

  private async watermarks(): Promise<Map<number, { high: number; low: number }>> {
    // kafkajs's admin forgets topic metadata it did not ask for after a metadata refresh
    // (KafkaJSTopicMetadataNotLoaded); asking for the topic first keeps it loaded.
    await this.admin.fetchTopicMetadata({ topics: [this.topic] });
    const offsets = await this.admin.fetchTopicOffsets(this.topic);
    return new Map(offsets.map((o) => [o.partition, { high: Number(o.high), low: Number(o.low) }]));
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    const worker = this.workers.get(batch.partition);
    if (worker === undefined) return;
    let folded = 0;
    let handled: string | undefined;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      if (await this.handleMessage(worker, batch.partition, message.offset, message.value)) {
        folded++;
        if ((folded & 4095) === 0) await heartbeat();
      }
      handled = message.offset;
    }
    // The next fetch starts after what was handled. Unresolved, kafkajs would fetch from the same
    // offset again: each batch would re-read (and re-decode) the partition from the generation
    // start, and a partition larger than one fetch would never get past it. (No commits are made:
    // the fold's start comes from the generation and the checkpoints, never from the group.)
    if (handled !== undefined && !isStale()) resolveOffset(handled);
    speedMetrics.readings.inc({ partition: String(batch.partition) }, folded);
    worker.latestHighWatermark = Number(batch.highWatermark);
    speedMetrics.lag.set({ partition: String(batch.partition) }, worker.backlog);
    await heartbeat();
  }

  /** Folds one record, or dead-letters it; true when a reading was folded (or primed). */
  private async handleMessage(worker: PartitionWorker, partition: number, offsetText: string, value: Buffer | null): Promise<boolean> {
    const offset = Number(offsetText);
    if (offset < worker.nextOffset) return false;
    if (offset > worker.nextOffset) {
      // Only log retention makes holes in the readings topic: those readings are gone from Kafka
      // and must come from the batch layer's master dataset.
      this.log.warn({ partition, expected: worker.nextOffset, got: offset }, 'gap in the readings topic (retention?)');
    }
    // A bad record the batch covers was dead-lettered when generation 0 read it; priming skips it.
    const priming = worker.priming;
    const bytes = value ?? Buffer.alloc(0);
    const refuse = async (reason: string, err: unknown) => {
      if (!priming) await this.deadLetter(bytes, reason, err, partition, offset);
      worker.skip(offset);
      return false;
    };
    let reading: ReturnType<typeof decodeReading>;
    try {
      reading = decodeReading(bytes);
    } catch (err) {
      return refuse(isMeterflowError(err) && err.code !== 'MF_SCHEMA_DECODE_FAILED' ? 'WRONG_SCHEMA' : 'MALFORMED', err);
    }
    const uncountable = uncountableReason(reading);
    // Not from meterflow's ingest (which refuses these): never counted, by either layer.
    if (uncountable !== undefined) return refuse(uncountable, new Error(`value ${reading.value} cannot be counted`));
    if (!this.meters.has(reading.meterId) && !priming) await this.reloadMeters();
    if (!this.meters.has(reading.meterId)) return refuse('UNKNOWN_METER', new Error(`meter ${reading.meterId} is not in the registry`));
    worker.accept(reading, offset);
    return true;
  }

  private async deadLetter(original: Buffer, reason: string, err: unknown, partition: number, offset: number): Promise<void> {
    speedMetrics.deadLetters.inc({ reason });
    await this.producer.send({
      topic: this.config.kafka.topics.deadLetters.name,
      acks: -1,
      messages: [
        {
          key: reason,
          value: encodeDeadLetter({
            reason,
            message: err instanceof Error ? err.message : String(err),
            original,
            source: 'speed-layer',
            origin: { kind: 'kafka', topic: this.topic, partition, offset },
            time: Date.now(),
          }),
          headers: { reason },
        },
      ],
    });
  }

  private scheduleFlush(): void {
    if (this.stopped) return;
    this.flushTimer = setTimeout(() => {
      this.flushing = this.flushAll()
        .catch((err) => this.log.error({ err }, 'flush failed'))
        .finally(() => {
          this.flushing = undefined;
          this.scheduleFlush();
        });
    }, this.flushDelay());
  }

  /**
   * While any owned partition is still catching up (a rebuild or a backlog), flush less often:
   * each flush rewrites every row touched since the last one, so a coarse row (a day, a month) is
   * written once per flush — at 500 ms that is dozens of rewrites of the same row per second of a
   * backlog. Caught up, readings arrive slowly and the short interval gives freshness.
   */
  private flushDelay(): number {
    const { flushIntervalMs, catchUpFlushIntervalMs } = this.config.speed;
    for (const w of this.workers.values()) if (!w.caughtUp || w.backlog > BACKLOG) return Math.max(flushIntervalMs, catchUpFlushIntervalMs);
    return flushIntervalMs;
  }

  private flushAll(): Promise<void> {
    const run = this.flushChain.then(() => this.flushWorkers());
    this.flushChain = run.catch(() => {});
    return run;
  }

  /**
   * Partition by partition: rows and checkpoint to Cassandra, then the view changes to Kafka. The
   * publication of one partition's changes overlaps the Cassandra write of the next (two different
   * services), but publications stay one at a time, in order: the producer is idempotent, and
   * kafkajs does not keep sequence numbers right across concurrent sends.
   */
  private async flushWorkers(): Promise<void> {
    let publishing: Promise<void> = Promise.resolve();
    try {
      for (const worker of [...this.workers.values()]) {
        const pending = worker.takeFlush();
        if (pending === undefined) continue;
        await this.writeWithRetry(pending);
        publishing = publishing.then(async () => {
          await this.withRetry(pending.partition, () =>
            publishViewChanges(this.producer, this.config.kafka.topics.viewChanges.name, this.viewsByName, pending),
          );
          worker.flushed(pending);
          speedMetrics.partials.set({ partition: String(worker.partition) }, 0);
        });
      }
    } finally {
      await publishing;
    }
  }

  /** Rows first, then the checkpoint, retried until Cassandra takes them. */
  private async writeWithRetry(f: PendingFlush): Promise<void> {
    const started = process.hrtime.bigint();
    await this.withRetry(f.partition, async () => {
      // A reader that sees "caught up through X" finds every row of X in Cassandra. (A crash in
      // between leaves rows ahead of the checkpoint, which the rebuild rewrites with equal values.)
      await this.store.writeRows(f.generation, f.partition, f.throughOffset, f.rows);
      await this.store.writeCheckpoint({
        generation: f.generation,
        partition: f.partition,
        throughOffset: f.throughOffset,
        caughtUp: f.caughtUp,
      });
    });
    speedMetrics.flushSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    speedMetrics.flushedRows.inc(f.rows.length);
  }

  /** Retries a flush step until it succeeds; the consumer is paused meanwhile (back-pressure). */
  private async withRetry(partition: number, step: () => Promise<void>): Promise<void> {
    let delay = this.config.speed.retryMinMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await step();
        if (this.paused) {
          this.consumer.resume([{ topic: this.topic }]);
          this.paused = false;
          this.log.info({ attempt }, 'flush succeeded; consumer resumed');
        }
        return;
      } catch (err) {
        speedMetrics.flushFailures.inc();
        if (!this.paused) {
          this.consumer.pause([{ topic: this.topic }]);
          this.paused = true;
        }
        this.log.warn({ err: (err as Error).message, attempt, delayMs: delay, partition }, 'flush failed; consumer paused, retrying');
        if (this.stopped && attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(this.config.speed.retryMaxMs, delay * 2);
      }
    }
  }

  private async reloadMeters(): Promise<void> {
    try {
      this.meters = await this.registry.asMap();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not reload the meter registry');
    }
  }

  /** Picks up new meters and a newly published batch generation (then rebuilds from its offsets). */
  private async refresh(): Promise<void> {
    await this.reloadMeters();
    let latest: Generation;
    try {
      latest = await this.generations.current();
    } catch {
      return;
    }
    if (this.generation === undefined || latest.generation <= this.generation.generation) return;
    await this.switchGeneration(latest);
  }

  /** Starts building `latest` on every owned partition, from its offsets (and its own checkpoints, if any). */
  private async switchGeneration(latest: Generation): Promise<void> {
    this.log.info(
      { from: this.generation?.generation, to: latest.generation },
      'new batch generation: rebuilding speed views from its offsets',
    );
    // The old generation's unflushed work is dropped, not flushed: it is superseded, and what it
    // already wrote stays consistent with its own checkpoints until serving switches over.
    await this.flushing;
    this.generation = latest;
    const [watermarks, checkpoints] = await Promise.all([this.watermarks(), this.checkpointsOf(latest.generation)]);
    for (const p of [...this.workers.keys()]) this.startWorker(latest, p, watermarks.get(p) ?? NO_OFFSETS, checkpoints.get(p));
  }
}
