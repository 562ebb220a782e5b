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

  constructor(
    readonly generation: Generation,
    readonly partition: number,
    views: readonly ViewDefinition[],
    meters: MeterLookup,
    highWatermark: number,
  ) {
    this.fold = new ViewFold({ partition, views, meters });
    this.nextOffset = speedStartOffset(generation, partition);
    this.catchUpTarget = highWatermark;
  }

  get startOffset(): number {
    return speedStartOffset(this.generation, this.partition);
  }

  get caughtUp(): boolean {
    return this.nextOffset >= this.catchUpTarget;
  }

  /** Folds a reading at `offset`; returns false for an offset already folded (a stale fetch). */
  accept(reading: MeterReading, offset: number): boolean {
    if (offset < this.nextOffset) return false;
    this.fold.fold(reading, offset);
    this.nextOffset = offset + 1;
    return true;
  }

  /** Skips an offset that holds no reading (a dead-lettered record). */
  skip(offset: number): void {
    if (offset >= this.nextOffset) this.nextOffset = offset + 1;
  }

  /** What to write now, or undefined when neither rows nor the checkpoint changed. */
  takeFlush(): PendingFlush | undefined {
    const batch = this.fold.flush();
    const throughOffset = this.nextOffset - 1;
    const caughtUp = this.caughtUp;
    const unchanged = this.lastCheckpoint?.throughOffset === throughOffset && this.lastCheckpoint.caughtUp === caughtUp;
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
