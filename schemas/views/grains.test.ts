import { describe, expect, it } from 'vitest';
import { bucketMinutes, bucketOf, localDayMinutes } from './grains.ts';

const london = 'Europe/London';

describe('bucketOf', () => {
  it('assigns UTC buckets', () => {
    const t = Date.UTC(2013, 2, 31, 23, 47);
    expect(bucketOf('15m', t, london)).toBe(Date.UTC(2013, 2, 31, 23, 45));
    expect(bucketOf('hour', t, london)).toBe(Date.UTC(2013, 2, 31, 23));
    expect(bucketOf('day', t, london)).toBe(Date.UTC(2013, 2, 31));
    expect(bucketOf('month', t, london)).toBe(Date.UTC(2013, 2, 1));
  });

  it('labels local buckets by the local calendar date', () => {
    // 23:47 UTC on 31 March is 00:47 BST on 1 April in London.
    const t = Date.UTC(2013, 2, 31, 23, 47);
    expect(bucketOf('local-day', t, london)).toBe(Date.UTC(2013, 3, 1));
    expect(bucketOf('local-month', t, london)).toBe(Date.UTC(2013, 3, 1));
    // 13:00 UTC on 6 April is already 7 April in Sydney.
    expect(bucketOf('local-day', Date.UTC(2013, 3, 6, 13), 'Australia/Sydney')).toBe(Date.UTC(2013, 3, 7));
  });
});

describe('bucketMinutes', () => {
  it('knows DST days have 23 or 25 hours', () => {
    expect(bucketMinutes('local-day', Date.UTC(2013, 2, 31), london)).toBe(1380);
    expect(bucketMinutes('local-day', Date.UTC(2013, 9, 27), london)).toBe(1500);
    expect(bucketMinutes('local-day', Date.UTC(2013, 3, 7), 'Australia/Sydney')).toBe(1500);
    expect(bucketMinutes('local-day', Date.UTC(2013, 5, 1), london)).toBe(1440);
    expect(localDayMinutes(Date.UTC(2013, 2, 31, 12), london)).toBe(1380);
  });

  it('measures months', () => {
    expect(bucketMinutes('month', Date.UTC(2013, 1, 1), london)).toBe(28 * 1440);
    expect(bucketMinutes('local-month', Date.UTC(2013, 2, 1), london)).toBe(31 * 1440 - 60);
  });

  it('rejects an unknown zone with a typed error', () => {
    expect(() => bucketOf('local-day', 0, 'Mars/Olympus')).toThrow(expect.objectContaining({ code: 'MF_VIEW_INVALID' }));
  });
});
