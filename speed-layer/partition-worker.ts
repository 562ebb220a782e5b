import { type Generation, speedStartOffset } from '../schemas/generation.ts';
import type { MeterReading } from '../schemas/reading.ts';
import type { MeterLookup, ViewDefinition } from '../schemas/views/index.ts';
import { ViewFold } from './fold/index.ts';
import type { SpeedRowWrite } from './store/speed-store.ts';

export interface PendingFlush {
  generation: number;
  partition: number;
  throughOffset: number;
  caughtUp: boolean;
  rows: SpeedRowWrite[];
}

/**
 * One readings-topic partition's share of one generation: the fold of every reading from the
 * generation's start offset B[p] + 1 onwards. Its state is a function of the log alone, so a new
 * owner (after a crash or a rebalance) rebuilds it by reading the same offsets again.
 */
export class PartitionWorker {
  readonly fold: ViewFold;
  /** Next offset to fold; lower offsets (stale fetches before a seek) are ignored. */
  nextOffset: number;
  /** The high watermark when the worker started: reaching it means the rebuild caught up. */
  readonly catchUpTarget: number;
  private lastCheckpoint: { throughOffset: number; caughtUp: boolean } | undefined;
  /**
   * The checkpoint an earlier owner wrote for this generation and partition: Cassandra already
   * holds every row as of that offset, so the rebuild up to it is done in memory only and the
   * first flush writes just what changed after it (a restart costs a re-read, not a rewrite).
   */
  private readonly resumeThrough: number;
  private resumed: boolean;

  constructor(
    readonly generation: Generation,
    readonly partition: number,
    views: readonly ViewDefinition[],
    meters: MeterLookup,
    highWatermark: number,
    checkpoint?: { throughOffset: number; caughtUp: boolean },
    /** The partition's first offset still on the log: readings from here to B[p] prime the fold. */
    lowWatermark = speedStartOffset(generation, partition),
  ) {
    this.fold = new ViewFold({ partition, views, meters });
    this.primeFrom = Math.min(lowWatermark, speedStartOffset(generation, partition));
    this.nextOffset = this.primeFrom;
    this.catchUpTarget = highWatermark;
    this.resumeThrough = checkpoint?.throughOffset ?? -1;
    this.resumed = this.resumeThrough < this.nextOffset;
    if (checkpoint !== undefined) this.lastCheckpoint = checkpoint;
  }

  /**
   * Where reading starts: before the generation's own readings (B[p] + 1), those the batch version
   * covers, as far back as the log still holds them. They prime the fold (ViewFold.prime): they
   * are never counted by speed, but a copy of one re-sent after B — a head-end re-delivering a
   * file, a replay — is then recognised as a duplicate instead of being counted a second time on
   * top of the batch. (Re-sends of readings older than the log's retention are not recognised.)
   */
  readonly primeFrom: number;

  get startOffset(): number {
    return this.primeFrom;
  }

  /** The partition's high watermark as of the latest fetch (for the backlog). */
  latestHighWatermark = 0;

  /** Readings on the log not folded yet, as of the latest fetch. */
  get backlog(): number {
    return Math.max(0, Math.max(this.latestHighWatermark, this.catchUpTarget) - this.nextOffset);
  }

  get caughtUp(): boolean {
    return this.nextOffset >= this.catchUpTarget;
  }

  /** Folds a reading at `offset`; returns false for an offset already folded (a stale fetch). */
  accept(reading: MeterReading, offset: number): boolean {
    if (offset < this.nextOffset) return false;
    if (offset < speedStartOffset(this.generation, this.partition)) {
      this.fold.prime(reading, offset);
    } else {
      this.resumeBefore(offset);
      this.fold.fold(reading, offset);
    }
    this.nextOffset = offset + 1;
    return true;
  }

  /** Skips an offset that holds no reading (a dead-lettered record). */
  skip(offset: number): void {
    if (offset < this.nextOffset) return;
    this.resumeBefore(offset);
    this.nextOffset = offset + 1;
  }

  /** True while reading the batch's part of the log (offsets ≤ B[p]) to prime the fold. */
  get priming(): boolean {
    return this.nextOffset < speedStartOffset(this.generation, this.partition);
  }

  /** True while the in-memory rebuild has not yet passed the earlier owner's checkpoint. */
  get rebuilding(): boolean {
    return !this.resumed && this.nextOffset <= this.resumeThrough;
  }

  /** At the first offset past the checkpoint, what was rebuilt is already in Cassandra: forget it is dirty. */
  private resumeBefore(offset: number): void {
    if (this.resumed || offset <= this.resumeThrough) return;
    this.fold.markClean();
    this.resumed = true;
  }

  /** What to write now, or undefined when neither rows nor the checkpoint changed. */
  takeFlush(): PendingFlush | undefined {
    // Nothing is written while priming (no counted reading yet), nor before the rebuild reaches
    // the checkpoint (those rows are stored already).
    if (this.priming || this.rebuilding) return undefined;
    if (!this.resumed) {
      this.fold.markClean();
      this.resumed = true;
    }
    const batch = this.fold.flush();
    const throughOffset = this.nextOffset - 1;
    const caughtUp = this.caughtUp;
    // A checkpoint already caught up at this offset stays so (an earlier owner's, after a restart).
    const last = this.lastCheckpoint;
    const unchanged = last?.throughOffset === throughOffset && (last.caughtUp === caughtUp || last.caughtUp);
    if (batch.partials.length === 0 && unchanged) return undefined;
    return {
      generation: this.generation.generation,
      partition: this.partition,
      throughOffset,
      caughtUp,
      rows: batch.partials.map((p) => ({
        view: p.view,
        grain: p.grain,
        key: p.key,
        bucket: p.bucket,
        states: p.states,
        removed: p.removed,
      })),
    };
  }

  flushed(f: PendingFlush): void {
    this.lastCheckpoint = { throughOffset: f.throughOffset, caughtUp: f.caughtUp };
  }
}
