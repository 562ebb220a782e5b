import type { GrainId } from './grains.ts';

/**
 * The Cassandra partition a speed row lives in, by its bucket: partitions stay bounded whatever
 * the history (a day of 15-minute or hourly buckets, a month of days, a year of months).
 */
export function partitionPeriod(grain: GrainId, bucket: number): number {
  const d = new Date(bucket);
  switch (grain) {
    case '15m':
    case 'hour':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case 'day':
    case 'local-day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'month':
    case 'local-month':
      return Date.UTC(d.getUTCFullYear(), 0, 1);
  }
}
