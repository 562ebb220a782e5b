import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GrainId } from './grains.ts';
import type { IntervalFact } from './interval-facts.ts';
import { ALL_MEASURES, type AnyMonoidMeasure, coverage, type MeasureState, netKwh } from './measures.ts';
import { TEST_METERS } from './test-support/arbitraries.ts';

const monoidMeasures = ALL_MEASURES.filter((m): m is AnyMonoidMeasure => m.kind === 'monoid');

const factArb: fc.Arbitrary<IntervalFact> = fc
  .record({
    meter: fc.constantFrom(...TEST_METERS),
    channel: fc.constantFrom('import' as const, 'export' as const),
    start: fc.integer({ min: Date.UTC(2013, 0, 1) / 900_000, max: Date.UTC(2014, 0, 1) / 900_000 }).map((q) => q * 900_000),
    kwh: fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { freq: 5 }),
    gap: fc.integer({ min: 0, max: 3 }),
  })
  .map(({ meter, channel, start, kwh, gap }) => ({
    meter,
    channel,
    intervalStart: start,
    intervalMinutes: meter.intervalMinutes,
    spanMinutes: meter.intervalMinutes * (1 + gap),
    kwh,
  }));

const grainArb = fc.constantFrom<GrainId>('15m', 'hour', 'day', 'month', 'local-day', 'local-month');

/** Floating-point sums are only associative up to rounding; states are compared with a relative tolerance. */
function close(a: MeasureState, b: MeasureState): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(s: MeasureState): unknown {
  return s !== null && typeof s === 'object' ? Object.fromEntries(Object.entries(s).sort(([x], [y]) => x.localeCompare(y))) : s;
}

describe.each(monoidMeasures.map((m) => [m.name, m] as const))('measure %s is a commutative monoid', (_name, m) => {
  // States reachable in practice: sums of lifts of facts into one (grain, bucket).
  const stateArb = fc
    .tuple(grainArb, fc.array(factArb, { maxLength: 6 }))
    .map(([grain, facts]) => facts.reduce<MeasureState>((acc, f) => m.monoid.plus(acc, m.lift(f, { grain, bucket: 0 })), m.monoid.zero));

  it('is associative', () => {
    fc.assert(
      fc.property(stateArb, stateArb, stateArb, (a, b, c) =>
        close(m.monoid.plus(m.monoid.plus(a, b), c), m.monoid.plus(a, m.monoid.plus(b, c))),
      ),
    );
  });
  it('is commutative', () => {
    fc.assert(fc.property(stateArb, stateArb, (a, b) => close(m.monoid.plus(a, b), m.monoid.plus(b, a))));
  });
  it('has zero as identity', () => {
    fc.assert(fc.property(stateArb, (a) => close(m.monoid.plus(m.monoid.zero, a), a) && close(m.monoid.plus(a, m.monoid.zero), a)));
  });
});

describe('derived measures', () => {
  it('net = import − export; coverage is null when nothing was expected', () => {
    expect(netKwh.compute({ importKwh: 3, exportKwh: 1.25 })).toBe(1.75);
    expect(coverage.compute({ readingCount: 46, expectedCount: 46 })).toBe(1);
    expect(coverage.compute({ readingCount: 0, expectedCount: 0 })).toBeNull();
  });
});
