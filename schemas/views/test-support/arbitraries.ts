import fc from 'fast-check';
import type { Channel, Meter, MeterReading } from '../../reading.ts';
import type { LoggedReading } from '../reading-identity.ts';

/**
 * fast-check generators shared by the fold tests and the law suite: a small registry spanning
 * three time zones, interval and register meters, undeclared tariffs; readings clustered around
 * DST changes and a month end, with exact re-sends, differing re-sends and corrections, assigned to
 * log offsets in a random order.
 */
export const TEST_METERS: readonly Meter[] = [
  meter('M1', 'S1', 'London', 'Europe/London', 'Std', 30, 'interval'),
  meter('M2', 'S1', 'London', 'Europe/London', 'ToU', 15, 'interval'),
  meter('M3', 'S2', 'NSW', 'Australia/Sydney', 'Eco7|x=y', 30, 'register'),
  meter('M4', 'S3', 'NY', 'America/New_York', 'ToU', 60, 'register'),
  meter('M5', 'S3', 'NY', 'America/New_York', 'Std', 15, 'interval'),
];

function meter(
  meterId: string,
  siteId: string,
  region: string,
  timeZone: string,
  tariff: string,
  intervalMinutes: number,
  readingKind: 'interval' | 'register',
): Meter {
  return { meterId, siteId, region, timeZone, tariff, intervalMinutes, readingKind, ratedKw: 20 };
}

/** DST changes (London, Sydney, New York, 2013) and a UTC month end: buckets of 23/25 hours and month splits. */
export const ANCHORS: readonly number[] = [
  Date.UTC(2013, 2, 31, 1),
  Date.UTC(2013, 9, 27, 1),
  Date.UTC(2013, 3, 6, 16),
  Date.UTC(2013, 9, 5, 16),
  Date.UTC(2013, 2, 10, 7),
  Date.UTC(2013, 10, 3, 6),
  Date.UTC(2013, 3, 30, 22),
];

const readingArb = fc
  .record({
    meter: fc.constantFrom(...TEST_METERS),
    anchor: fc.constantFrom(...ANCHORS),
    slot: fc.integer({ min: -30, max: 30 }),
    channel: fc.constantFrom<Channel>('import', 'import', 'export'),
    milli: fc.integer({ min: 0, max: 2_500 }),
    correction: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  })
  .map(({ meter, anchor, slot, channel, milli, correction }): MeterReading => {
    const intervalStart = anchor + slot * meter.intervalMinutes * 60_000;
    // Registers mostly climb with time; the random part makes some go backwards (flagged facts).
    const value = meter.readingKind === 'register' ? 100 + slot * 0.4 + milli / 1000 : milli / 1000;
    return {
      meterId: meter.meterId,
      intervalStart,
      intervalMinutes: meter.intervalMinutes,
      channel,
      kind: meter.readingKind,
      value,
      quality: 'actual',
      source: 'test',
      correction,
    };
  });

const copyArb = fc.record({
  index: fc.nat(),
  kind: fc.constantFrom('exact', 'differing', 'correction'),
  milli: fc.integer({ min: 0, max: 2_500 }),
});

/** Readings with their copies, in log order, with increasing offsets of one partition. */
export const loggedReadingsArb: fc.Arbitrary<LoggedReading[]> = fc
  .record({ base: fc.array(readingArb, { minLength: 1, maxLength: 50 }), copies: fc.array(copyArb, { maxLength: 25 }) })
  .map(({ base, copies }) => {
    const all = [...base];
    for (const c of copies) {
      const original = base[c.index % base.length] as MeterReading;
      if (c.kind === 'exact') all.push({ ...original });
      else all.push({ ...original, value: original.value + c.milli / 1000, correction: c.kind === 'correction' });
    }
    return all;
  })
  .chain((all) => fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }))
  .map((ordered) => ordered.map((reading, i) => ({ reading, partition: 0, offset: 1_000 + i * 3 })));

/** A log and a permutation of it: the same copies at the same offsets, folded in another order. */
export const logAndPermutationArb: fc.Arbitrary<[LoggedReading[], LoggedReading[]]> = loggedReadingsArb.chain((log) =>
  fc.tuple(fc.constant(log), fc.shuffledSubarray(log, { minLength: log.length, maxLength: log.length })),
);
