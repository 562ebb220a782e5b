import type { Logger } from '../../core/logger.ts';
import { encodeDeadLetter, encodeReading } from '../../schemas/avro/codec.ts';
import type { DeadLetterOrigin } from '../../schemas/avro/types.ts';
import type { MeterReading } from '../../schemas/reading.ts';
import type { OutboundMessage, ProducerTransport } from '../producer/transport.ts';
import type { ValidationContext } from '../validation/context.ts';
import type { RejectReason } from '../validation/reasons.ts';
import { validateReading } from '../validation/validate-reading.ts';
import { ingestMetrics } from './metrics.ts';

/** One input to ingest: a parsed reading, or something a parser already refused, with where it came from. */
export type IngestInput =
  | {
      reading: MeterReading;
      /**
       * The input as received, dead-lettered as the original bytes if a rule refuses the reading
       * (a string is encoded only then, so file sources pass their record text at no cost).
       * Without it the dead letter holds the reading as JSON.
       */
      raw?: Buffer | string | undefined;
      source: string;
      origin: DeadLetterOrigin;
    }
  | { reject: { reason: RejectReason; message: string; raw: Buffer }; source: string; origin: DeadLetterOrigin };

export type IngestOutcome = { status: 'accepted' } | { status: 'rejected'; reason: RejectReason; message: string };

export interface IngestStats {
  accepted: number;
  deadLettered: number;
  byReason: Partial<Record<RejectReason, number>>;
}

export interface IngestPipelineOptions {
  transport: ProducerTransport;
  topics: { readings: string; deadLetters: string };
  validation: ValidationContext;
  batchSize: number;
  maxInFlightBatches: number;
  log: Logger;
  /** How long a partial batch waits for more messages before it is sent. */
  lingerMs?: number;
}

interface Pending {
  message: OutboundMessage;
  outcome: IngestOutcome;
  resolve: ((o: IngestOutcome) => void) | undefined;
  reject: ((e: unknown) => void) | undefined;
}

const ACCEPTED: IngestOutcome = { status: 'accepted' };

/**
 * Size bounds that keep every produce request under Kafka's default 1 MiB message limit
 * (message.max.bytes applies to a whole record batch): a batch is sent once it holds batchBytes,
 * and a dead letter keeps at most originalBytes of the original input and messageChars of text.
 */
export const PRODUCE_LIMITS = { originalBytes: 256 * 1024, messageChars: 2_000, batchBytes: 512 * 1024 } as const;

/**
 * Every input path ends here: validate (one VEE rule set), encode as Avro, and produce to the
 * readings topic keyed by meter — or to the dead-letter topic with the reason and the original
 * bytes. An input counts as accepted (or dead-lettered) only once the broker acknowledged it.
 * Memory is bounded: at most maxInFlightBatches batches are unacknowledged; `ready()` waits for room.
 */
export class IngestPipeline {
  readonly stats: IngestStats = { accepted: 0, deadLettered: 0, byReason: {} };
  private readings: Pending[] = [];
  private deadLetters: Pending[] = [];
  private readonly queuedBytes = { readings: 0, deadLetters: 0 };
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;

  constructor(private readonly o: IngestPipelineOptions) {}

  /** Resolves when there is room for more input (back-pressure for sources that can pause). */
  async ready(): Promise<void> {
    while (this.inFlight.size >= this.o.maxInFlightBatches) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** True when a source may offer more input without waiting. */
  hasRoom(): boolean {
    return this.inFlight.size < this.o.maxInFlightBatches;
  }

  /** Queues one input; the promise settles when the broker has acknowledged where it went. */
  enqueue(input: IngestInput): Promise<IngestOutcome> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<IngestOutcome>((resolve, reject) => this.route(input, resolve, reject));
  }

  /**
   * Queues one input without a promise of its own: for bulk sources (replay, simulator) that only
   * need the totals in `stats` after `flush()`. Saves an allocation per reading on the hot path.
   */
  offer(input: IngestInput): void {
    if (this.failure) throw this.failure;
    this.route(input, undefined, undefined);
  }

  private route(input: IngestInput, resolve: Pending['resolve'], reject: Pending['reject']): void {
    if ('reject' in input) {
      const r = input.reject;
      const outcome: IngestOutcome = { status: 'rejected', reason: r.reason, message: r.message };
      this.push(this.deadLetters, this.deadLetter(r.reason, r.message, r.raw, input), outcome, resolve, reject);
      return;
    }
    const verdict = validateReading(input.reading, this.o.validation);
    if (verdict.ok) {
      this.push(this.readings, { key: verdict.reading.meterId, value: encodeReading(verdict.reading) }, ACCEPTED, resolve, reject);
      return;
    }
    const raw =
      input.raw === undefined
        ? Buffer.from(JSON.stringify(input.reading))
        : typeof input.raw === 'string'
          ? Buffer.from(input.raw)
          : input.raw;
    const outcome: IngestOutcome = { status: 'rejected', reason: verdict.reason, message: verdict.message };
    this.push(this.deadLetters, this.deadLetter(verdict.reason, verdict.message, raw, input), outcome, resolve, reject);
  }

  /** Sends what is queued and waits for every acknowledgement. */
  async flush(): Promise<void> {
    this.sendQueued();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    if (this.failure) throw this.failure;
  }

  private deadLetter(reason: RejectReason, message: string, original: Buffer, input: IngestInput): OutboundMessage {
    // A dead letter must fit under the broker's message limit, or one huge bad input would fail
    // its batch and stop the pipeline: beyond the cap the original is cut, and the message says so.
    let text = message.length > PRODUCE_LIMITS.messageChars ? `${message.slice(0, PRODUCE_LIMITS.messageChars)}…` : message;
    let kept = original;
    if (original.length > PRODUCE_LIMITS.originalBytes) {
      kept = original.subarray(0, PRODUCE_LIMITS.originalBytes);
      text += ` (original of ${original.length} bytes cut to its first ${kept.length})`;
    }
    const value = encodeDeadLetter({ reason, message: text, original: kept, source: input.source, origin: input.origin, time: Date.now() });
    // Keyed by reason so that one partition's consumers see one reason's burst in order.
    return { key: reason, value, headers: { reason } };
  }

  private push(
    queue: Pending[],
    message: OutboundMessage,
    outcome: IngestOutcome,
    resolve: Pending['resolve'],
    reject: Pending['reject'],
  ): void {
    queue.push({ message, outcome, resolve, reject });
    const which = queue === this.readings ? 'readings' : 'deadLetters';
    this.queuedBytes[which] += message.value.length;
    // By count and by size: a produce request over the broker's limit fails whole.
    if (queue.length >= this.o.batchSize || this.queuedBytes[which] >= PRODUCE_LIMITS.batchBytes) this.sendBatch(which);
    else if (this.timer === undefined) this.timer = setTimeout(() => this.sendQueued(), this.o.lingerMs ?? 5);
  }

  private sendQueued(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.readings.length > 0) this.sendBatch('readings');
    if (this.deadLetters.length > 0) this.sendBatch('deadLetters');
  }

  private sendBatch(which: 'readings' | 'deadLetters'): void {
    const batch = which === 'readings' ? this.readings : this.deadLetters;
    if (which === 'readings') this.readings = [];
    else this.deadLetters = [];
    this.queuedBytes[which] = 0;
    const topic = this.o.topics[which];
    const started = process.hrtime.bigint();
    const p = this.o.transport
      .send(
        topic,
        batch.map((b) => b.message),
      )
      .then(
        () => {
          ingestMetrics.produceSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
          let accepted = 0;
          for (const b of batch) {
            if (b.outcome.status === 'accepted') accepted++;
            else {
              this.stats.deadLettered++;
              this.stats.byReason[b.outcome.reason] = (this.stats.byReason[b.outcome.reason] ?? 0) + 1;
              ingestMetrics.readings.inc({ outcome: 'dead-lettered', reason: b.outcome.reason });
            }
            b.resolve?.(b.outcome);
          }
          this.stats.accepted += accepted;
          if (accepted > 0) ingestMetrics.readings.inc({ outcome: 'accepted' }, accepted);
        },
        (err: unknown) => {
          // The transport already retried; nothing in this batch counts, and the source must stop.
          this.failure ??= err;
          this.o.log.error({ err, topic, messages: batch.length }, 'produce failed');
          for (const b of batch) b.reject?.(err);
        },
      )
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }
}
