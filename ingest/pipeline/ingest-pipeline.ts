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
  | { reading: MeterReading; raw?: Buffer; source: string; origin: DeadLetterOrigin }
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
  resolve: (o: IngestOutcome) => void;
  reject: (e: unknown) => void;
}

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
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;

  constructor(private readonly o: IngestPipelineOptions) {}

  /** Resolves when there is room for more input (back-pressure for sources that can pause). */
  async ready(): Promise<void> {
    while (this.inFlight.size >= this.o.maxInFlightBatches) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Queues one input; the promise settles when the broker has acknowledged where it went. */
  enqueue(input: IngestInput): Promise<IngestOutcome> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<IngestOutcome>((resolve, reject) => {
      if ('reject' in input) {
        const r = input.reject;
        this.push(
          this.deadLetters,
          this.deadLetter(r.reason, r.message, r.raw, input),
          { status: 'rejected', reason: r.reason, message: r.message },
          resolve,
          reject,
        );
        return;
      }
      const verdict = validateReading(input.reading, this.o.validation);
      if (verdict.ok) {
        const message = { key: verdict.reading.meterId, value: encodeReading(verdict.reading) };
        this.push(this.readings, message, { status: 'accepted' }, resolve, reject);
      } else {
        const raw = input.raw ?? Buffer.from(JSON.stringify(input.reading));
        this.push(
          this.deadLetters,
          this.deadLetter(verdict.reason, verdict.message, raw, input),
          { status: 'rejected', reason: verdict.reason, message: verdict.message },
          resolve,
          reject,
        );
      }
    });
  }

  /** Sends what is queued and waits for every acknowledgement. */
  async flush(): Promise<void> {
    this.sendQueued();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    if (this.failure) throw this.failure;
  }

  private deadLetter(reason: RejectReason, message: string, original: Buffer, input: IngestInput): OutboundMessage {
    const value = encodeDeadLetter({ reason, message, original, source: input.source, origin: input.origin, time: Date.now() });
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
    if (queue.length >= this.o.batchSize) this.sendBatch(queue === this.readings ? 'readings' : 'deadLetters');
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
          for (const b of batch) {
            if (b.outcome.status === 'accepted') {
              this.stats.accepted++;
              ingestMetrics.readings.inc({ outcome: 'accepted' });
            } else {
              this.stats.deadLettered++;
              this.stats.byReason[b.outcome.reason] = (this.stats.byReason[b.outcome.reason] ?? 0) + 1;
              ingestMetrics.readings.inc({ outcome: 'dead-lettered', reason: b.outcome.reason });
            }
            b.resolve(b.outcome);
          }
        },
        (err: unknown) => {
          // The transport already retried; nothing in this batch counts, and the source must stop.
          this.failure ??= err;
          this.o.log.error({ err, topic, messages: batch.length }, 'produce failed');
          for (const b of batch) b.reject(err);
        },
      )
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }
}
