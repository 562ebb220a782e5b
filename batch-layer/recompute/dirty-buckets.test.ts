import { describe, expect, it } from 'vitest';
import { bucketOf } from '../../schemas/views/index.ts';
import { checkRangeOptions, dateRangeSpan, dirtyBucketRanges, factWindows, instantSpans, mergeRanges } from './dirty-buckets.ts';

const DAY = 86_400_000;
const t = (iso: string) => Date.parse(iso);

describe('dirty buckets', () => {
  it('merges overlapping and touching ranges', () => {
    expect(
      mergeRanges([
        [5, 7],
        [1, 3],
        [3, 4],
        [6, 9],
      ]),
    ).toEqual([
      [1, 4],
      [5, 9],
    ]);
    expect(instantSpans([10, 10, 11])).toEqual([[10, 12]]);
  });

  it('a UTC grain makes the buckets of the whole UTC days holding the instants dirty', () => {
    const spans = instantSpans([t('2013-02-14T10:00:00Z'), t('2013-02-14T10:30:00Z'), t('2013-03-31T23:30:00Z')]);
    expect(dirtyBucketRanges('hour', spans)).toEqual([
      [t('2013-02-14T00:00:00Z'), t('2013-02-15T00:00:00Z')],
      [t('2013-03-31T00:00:00Z'), t('2013-04-01T00:00:00Z')],
    ]);
    expect(dirtyBucketRanges('month', spans)).toEqual([[t('2013-02-01T00:00:00Z'), t('2013-04-01T00:00:00Z')]]);
    expect(factWindows('day', dirtyBucketRanges('day', spans))).toEqual([
      [t('2013-02-14T00:00:00Z'), t('2013-02-15T00:00:00Z')],
      [t('2013-03-31T00:00:00Z'), t('2013-04-01T00:00:00Z')],
    ]);
  });

  it('a year of half-hourly late readings is one range, and scattered days at most 32 (the closest joined)', () => {
    const halfHours = Array.from({ length: 17_520 }, (_, i) => t('2013-01-01T00:00:00Z') + i * 1_800_000);
    expect(dirtyBucketRanges('15m', instantSpans(halfHours))).toEqual([[t('2013-01-01T00:00:00Z'), t('2014-01-01T00:00:00Z')]]);
    const everyOtherDay = Array.from({ length: 100 }, (_, i) => t('2013-01-01T12:00:00Z') + i * 2 * DAY);
    const ranges = dirtyBucketRanges('hour', instantSpans(everyOtherDay));
    expect(ranges).toHaveLength(32);
    for (const day of everyOtherDay) expect(ranges.some(([lo, hi]) => lo <= day && day < hi)).toBe(true);
    expect(ranges[0]?.[0]).toBe(t('2013-01-01T00:00:00Z'));
    expect(ranges.at(-1)?.[1]).toBe(t('2013-01-01T00:00:00Z') + 99 * 2 * DAY + DAY);
  });

  it('a local grain takes the labels of every zone (UTC day ± 1) and reads one more day each side', () => {
    const instant = t('2015-06-30T23:00:00Z'); // 1 July 01:00 in Berlin, 30 June 13:00 in Honolulu
    const labels = dirtyBucketRanges('local-month', instantSpans([instant]));
    expect(labels).toEqual([[t('2015-06-01T00:00:00Z'), t('2015-08-01T00:00:00Z')]]);
    for (const zone of ['Europe/Berlin', 'Pacific/Honolulu', 'Pacific/Kiritimati', 'Etc/GMT+12']) {
      const b = bucketOf('local-day', instant, zone);
      const [range] = dirtyBucketRanges('local-day', instantSpans([instant]));
      expect(range && b >= range[0] && b < range[1], zone).toBe(true);
    }
    expect(factWindows('local-month', labels)).toEqual([[t('2015-05-31T00:00:00Z'), t('2015-08-02T00:00:00Z')]]);
  });

  it('--from/--to: UTC days, both included, checked with messages that say what is wrong', () => {
    expect(dateRangeSpan({ from: '2013-03-01', to: '2013-03-01' })).toEqual([t('2013-03-01T00:00:00Z'), t('2013-03-01T00:00:00Z') + DAY]);
    expect(checkRangeOptions({ from: '2013-03-01', to: '2013-03-31' })).toEqual({ from: '2013-03-01', to: '2013-03-31' });
    expect(() => checkRangeOptions({ to: '2013-03-31' })).toThrow(/--from and --to go together/);
    expect(() => checkRangeOptions({ from: '2013-3-1', to: '2013-03-31' })).toThrow(/--from "2013-3-1": use a calendar date/);
    expect(() => checkRangeOptions({ from: '1960-01-01', to: '2013-03-31' })).toThrow(/between 1970-01-01/);
  });
});
