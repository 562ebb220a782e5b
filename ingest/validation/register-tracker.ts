import type { Channel, MeterReading } from '../../schemas/reading.ts';

/** The newest accepted register read of one meter channel. */
export interface RegisterPoint {
  intervalStart: number;
  value: number;
}

/**
 * Remembers, per meter and channel, the newest accepted cumulative register read, so validation can
 * flag a register that goes backwards. Only accepted readings advance it (validateReading does that
 * when given a tracker), so one bad read cannot poison the state for the reads after it.
 * Memory: one entry per register channel seen; a speed-layer process holds its partitions' meters.
 */
export class RegisterTracker {
  private readonly last = new Map<string, RegisterPoint>();

  get(meterId: string, channel: Channel): RegisterPoint | undefined {
    return this.last.get(key(meterId, channel));
  }

  /** Keeps the read if it is the newest for its channel (late reads do not move the state back). */
  record(reading: MeterReading): void {
    if (reading.kind !== 'register') return;
    const k = key(reading.meterId, reading.channel);
    const prev = this.last.get(k);
    if (prev === undefined || reading.intervalStart >= prev.intervalStart) {
      this.last.set(k, { intervalStart: reading.intervalStart, value: reading.value });
    }
  }

  get size(): number {
    return this.last.size;
  }
}

function key(meterId: string, channel: Channel): string {
  return `${meterId}\u0000${channel}`;
}
