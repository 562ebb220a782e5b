import type { Channel, Meter } from '../reading.ts';

/**
 * An interval fact is what measures aggregate: one interval of one meter channel, after dedupe
 * (reading-identity.ts) and register conversion. Interval readings become facts as they are.
 * A register read R (cumulative kWh at the end of its interval) becomes the fact
 * `kwh = R − P` where P is the previous register read of the same meter and channel in interval
 * order:
 * - the first register read of a series has no predecessor and makes no fact (it is the baseline);
 * - after a gap, the difference covers every missing interval too. The energy is not spread over
 *   the gap (that would be guessing): the fact sits at the read's own interval and says so with
 *   `spanMinutes` (end of P's interval to end of R's), so demand is kWh over the real span;
 * - a register that went backwards (R < P: meter swap, rollover, bad read) makes a *flagged* fact
 *   with `kwh = null`: the interval is present but has no energy, it counts in `flaggedCount`, not in
 *   `readingCount`, so coverage shows the hole instead of a guessed or negative value.
 */
export interface IntervalFact {
  meter: Meter;
  channel: Channel;
  intervalStart: number;
  intervalMinutes: number;
  /** Minutes of consumption `kwh` covers: intervalMinutes, or more for a register read after a gap. */
  spanMinutes: number;
  /** kWh in the span; null when flagged (register went backwards). */
  kwh: number | null;
}

export interface RegisterRead {
  intervalStart: number;
  intervalMinutes: number;
  value: number;
}

/** The fact a register read makes given its predecessor (undefined = first read, no fact). */
export function registerFact(
  meter: Meter,
  channel: Channel,
  current: RegisterRead,
  previous: RegisterRead | undefined,
): IntervalFact | undefined {
  if (previous === undefined) return undefined;
  const delta = current.value - previous.value;
  const endMs = current.intervalStart + current.intervalMinutes * 60_000;
  const previousEndMs = previous.intervalStart + previous.intervalMinutes * 60_000;
  return {
    meter,
    channel,
    intervalStart: current.intervalStart,
    intervalMinutes: current.intervalMinutes,
    spanMinutes: (endMs - previousEndMs) / 60_000,
    kwh: delta >= 0 ? delta : null,
  };
}

export function intervalFact(meter: Meter, channel: Channel, intervalStart: number, intervalMinutes: number, kwh: number): IntervalFact {
  return { meter, channel, intervalStart, intervalMinutes, spanMinutes: intervalMinutes, kwh };
}
