import { randomUUID } from 'node:crypto';
import type { EachBatchPayload } from 'kafkajs';
import type { Config } from '../../core/config.ts';
import { MeterflowError } from '../../core/errors.ts';
import type { Kafka } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { decodeReading } from '../../schemas/avro/codec.ts';
import type { MeterReading } from '../../schemas/reading.ts';
import { type BatchLayout, layoutFor } from '../layout.ts';
import type { MasterFile } from './master-manifest.ts';
import { MasterWriter, type MasterWriterHooks } from './master-writer.ts';

export interface ArchiveOptions {
  config: Config;
  log: Logger;
  kafka: Kafka;
  layout?: BatchLayout;
  /**
   * Archive up to the high watermarks seen at start, then return; otherwise run until `signal`
   * aborts. A `once` run aborted before it got there throws MF_ARCHIVE_INTERRUPTED (after writing
   * what it had read), so a caller never takes a cut-short run for a complete one.
   */
  once?: boolean;
  signal?: AbortSignal;
  hooks?: MasterWriterHooks;
  onProgress?: (records: number) => void;
}

export interface ArchiveResult {
  files: MasterFile[];
  /** Readings written to files by this run. */
  readings: number;
  /** Records of this run that did not decode (covered by the file ranges, not stored). */
  skipped: number;
  /** Per partition, the last offset the master dataset covers after this run. */
  covered: Record<number, number>;
  seconds: number;
}

/**
 * The archiver: readings topic → master dataset. Every partition is seeked to the manifest's
 * coverage + 1 when assigned; the consumer group's commits are never used (none are made), so
 * the manifest alone decides where archiving resumes. Records are kept exactly as received
 * (duplicates, corrections, late readings); undecodable ones are counted and skipped (the speed
 * layer dead-letters them).
 *
 * The consumer group is the run's own (`<groupId>.<random>`): with no commits the group only
 * hands out partitions, and one archiver runs at a time under the job lease. A shared group id
 * would make a restarted archiver wait for the session of the one killed -9 before it (60 s)
 * to expire before getting any partition.
 */
export async function runArchiver(o: ArchiveOptions): Promise<ArchiveResult> {
  const started = Date.now();
  const log = o.log.child({ component: 'archiver' });
  const topic = o.config.kafka.topics.readings.name;
  const settings = o.config.batch.archive;
  const writer = await MasterWriter.open(o.layout ?? layoutFor(o.config), topic, log, o.hooks);
  const files: MasterFile[] = [];
  let records = 0;
  let skipped = 0;
  const admin = o.kafka.admin();
  const consumer = o.kafka.consumer({
    groupId: `${settings.groupId}.${randomUUID().slice(0, 8)}`,
    sessionTimeout: 60_000,
    rebalanceTimeout: 60_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: 8 * 1024 * 1024,
    retry: { retries: 10 },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await admin.connect();
    const watermarks = await admin.fetchTopicOffsets(topic);
    // --once: what is on the log now. Partitions already archived to their end need no consumer.
    const targets = new Map(watermarks.map((w) => [w.partition, Number(w.high) - 1]));
    const pending = new Set(
      watermarks.filter((w) => (writer.resumeOffset(w.partition) ?? Number(w.low)) <= Number(w.high) - 1).map((w) => w.partition),
    );
    if (o.once && pending.size === 0) {
      log.info({ topic }, 'nothing new to archive');
      return result();
    }

    let finish: () => void = () => {};
    let fail: (err: unknown) => void = () => {};
    const finished = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    finished.catch(() => {});
    const onAbort = () => finish();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) finish();

    /** Where each assigned partition was seeked to: earlier offsets (fetched before the seek) are ignored. */
    const starts = new Map<number, number>();
    await consumer.connect();
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const assigned = (e.payload.memberAssignment[topic] ?? []) as number[];
      void (async () => {
        const lows = new Map((await admin.fetchTopicOffsets(topic)).map((w) => [w.partition, Number(w.low)]));
        starts.clear();
        for (const p of assigned) {
          const start = writer.nextOffset(p) ?? lows.get(p) ?? 0;
          starts.set(p, start);
          consumer.seek({ topic, partition: p, offset: String(start) });
        }
        log.info({ partitions: assigned, starts: Object.fromEntries(starts) }, 'partitions assigned');
      })().catch(fail);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) fail(e.payload.error);
    });

    const flush = async (p: number) => {
      const file = await writer.flush(p);
      if (file) {
        files.push(file);
        log.info({ file: file.path, rows: file.rows, skipped: file.skipped }, 'archived');
      }
    };

    const onBatch = async ({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload) => {
      const p = batch.partition;
      const start = starts.get(p);
      if (start === undefined) return;
      const target = o.once ? (targets.get(p) ?? -1) : Number.POSITIVE_INFINITY;
      let handled: string | undefined;
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        const offset = Number(message.offset);
        if (offset > target) break;
        handled = message.offset;
        if (offset < start) continue;
        let reading: MeterReading | undefined;
        try {
          reading = decodeReading(message.value ?? Buffer.alloc(0));
        } catch {
          reading = undefined;
        }
        const expected = writer.nextOffset(p) ?? start;
        if (offset > expected) log.warn({ partition: p, expected, got: offset }, 'gap in the readings topic (retention?)');
        if (!writer.append(p, offset, reading)) continue;
        records++;
        if (reading === undefined) skipped++;
        if (writer.bufferedCount(p) >= settings.flushReadings) {
          await flush(p);
          await heartbeat();
        }
      }
      // Fetch on from here: unresolved, kafkajs would re-read the partition from the seek offset
      // at every fetch (the manifest, not the group, says where archiving resumes).
      if (handled !== undefined && !isStale()) resolveOffset(handled);
      o.onProgress?.(records);
      if (o.once && (writer.nextOffset(p) ?? 0) > target) {
        await flush(p);
        pending.delete(p);
        if (pending.size === 0) finish();
      }
      await heartbeat();
    };

    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => onBatch(payload).catch((err) => fail(err)),
    });
    if (!o.once) {
      const every = Math.max(100, Math.min(5_000, Math.floor(settings.flushIntervalMs / 4)));
      timer = setInterval(() => {
        const now = Date.now();
        for (const p of writer.bufferedPartitions()) {
          const since = writer.bufferedSince(p);
          if (since !== undefined && now - since >= settings.flushIntervalMs) void flush(p).catch(fail);
        }
      }, every);
    }
    await finished;
    o.signal?.removeEventListener('abort', onAbort);
    clearInterval(timer);
    await consumer.stop();
    // Continuous mode stopping (or --once aborted): what is buffered is written, so nothing read is lost.
    for (const f of await writer.flushAll()) files.push(f);
    if (o.once && pending.size > 0) {
      const r = result();
      throw new MeterflowError(
        'MF_ARCHIVE_INTERRUPTED',
        `archive --once stopped before the end of the topic (${r.readings} readings archived, partitions ${[...pending].join(', ')} unfinished); run it again to continue`,
        { details: { ...r, unfinished: [...pending] } },
      );
    }
    return result();
  } finally {
    clearInterval(timer);
    await Promise.allSettled([consumer.disconnect(), admin.disconnect()]);
    await writer.close();
  }

  function result(): ArchiveResult {
    const covered: Record<number, number> = {};
    for (const [p, c] of Object.entries(writer.current().partitions)) covered[Number(p)] = c.lastOffset;
    return { files, readings: records - skipped, skipped, covered, seconds: (Date.now() - started) / 1000 };
  }
}
