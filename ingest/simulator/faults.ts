import type { MeterReading } from '../../schemas/reading.ts';
import { hashUnit, PURPOSE } from './random.ts';

export type FaultKind = 'duplicate' | 'gap' | 'late' | 'bad-value';

export interface FaultOptions {
  seed: number;
  /** Each rate is the chance per reading, 0..1; the faults exclude one another. */
  duplicateRate?: number;
  gapRate?: number;
  lateRate?: number;
  badValueRate?: number;
  /** A late reading comes out after this many further readings; default 1000. */
  lateBy?: number;
}

/** A reading as sent, with the fault that shaped it (a gap has no reading: it is only counted). */
export type FaultyItem = { reading: MeterReading; fault?: Exclude<FaultKind, 'gap'> };

export interface FaultTally {
  duplicate: number;
  gap: number;
  late: number;
  'bad-value': number;
}

/**
 * Wraps a reading stream with the faults head-end systems produce: re-sent duplicates, missing
 * readings, readings arriving late (out of order), and bad values (NaN, negative, spikes). Each sent
 * fault is tagged, and `tally` counts them all (gaps included), so tests and demos can check that
 * the pipeline dead-letters or dedupes exactly what was injected.
 */
export function injectFaults(readings: Iterable<MeterReading>, opts: FaultOptions): { items: Generator<FaultyItem>; tally: FaultTally } {
  const tally: FaultTally = { duplicate: 0, gap: 0, late: 0, 'bad-value': 0 };
  const thresholds = [opts.duplicateRate ?? 0, opts.gapRate ?? 0, opts.lateRate ?? 0, opts.badValueRate ?? 0];
  const lateBy = opts.lateBy ?? 1000;

  function* items(): Generator<FaultyItem> {
    const held: { due: number; item: FaultyItem }[] = [];
    let n = 0;
    for (const r of readings) {
      n++;
      while (held.length > 0 && (held[0]?.due ?? Number.POSITIVE_INFINITY) <= n) yield (held.shift() as { item: FaultyItem }).item;
      const u = hashUnit(opts.seed, n, PURPOSE.fault);
      const [dup, gap, late, bad] = thresholds as [number, number, number, number];
      // Consecutive slices of [0, 1): the faults exclude one another.
      if (u < dup) {
        tally.duplicate++;
        yield { reading: r };
        yield { reading: { ...r }, fault: 'duplicate' };
      } else if (u < dup + gap) {
        tally.gap++;
      } else if (u < dup + gap + late) {
        tally.late++;
        held.push({ due: n + lateBy, item: { reading: r, fault: 'late' } });
      } else if (u < dup + gap + late + bad) {
        tally['bad-value']++;
        yield { reading: { ...r, value: badValue(r.value, hashUnit(opts.seed, n, PURPOSE.faultKind)) }, fault: 'bad-value' };
      } else {
        yield { reading: r };
      }
    }
    for (const h of held) yield h.item;
  }
  return { items: items(), tally };
}

function badValue(value: number, u: number): number {
  if (u < 1 / 3) return Number.NaN;
  if (u < 2 / 3) return -Math.abs(value) - 1;
  return value * 1000 + 1000; // far above any meter's rated power
}
