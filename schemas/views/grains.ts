import { DateTime } from 'luxon';
import { MeterflowError } from '../../core/errors.ts';

/**
 * Time grains and bucket assignment, shared by every layer (the batch SQL mirrors these functions
 * with DuckDB's ICU time zone functions; the law suite checks they agree).
 *
 * A bucket is identified by a number:
 * - UTC grains: the UTC epoch milliseconds of the bucket start;
 * - local grains (`local-day`, `local-month`): the local calendar date of the site, written as the
 *   epoch milliseconds of that date's midnight *in UTC* (a wall-clock label, not an instant). Sites in
 *   different zones therefore share the bucket "2013-03-31" in an aggregated view, which is what a
 *   regional "per local day" report means. The bucket's real length (23, 24 or 25 hours on DST days)
 *   depends on the zone and is given by `bucketMinutes`.
 */
export const GRAIN_IDS = ['15m', 'hour', 'day', 'month', 'local-day', 'local-month'] as const;
export type GrainId = (typeof GRAIN_IDS)[number];

/** The finest grain a view may declare, in minutes. */
export type FinestGrainMinutes = 15 | 60;

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export function isLocalGrain(grain: GrainId): boolean {
  return grain === 'local-day' || grain === 'local-month';
}

/** The grain a finest-grain length in minutes stands for. */
export function grainOfMinutes(minutes: FinestGrainMinutes): GrainId {
  return minutes === 15 ? '15m' : 'hour';
}

/** Nominal length used to order grains from fine to coarse (not the length of a given bucket). */
export function nominalMinutes(grain: GrainId): number {
  switch (grain) {
    case '15m':
      return 15;
    case 'hour':
      return 60;
    case 'day':
    case 'local-day':
      return 1_440;
    case 'month':
    case 'local-month':
      return 44_640;
  }
}

/** The bucket of `grain` that holds the instant `instantMs`, for a site in `timeZone`. */
export function bucketOf(grain: GrainId, instantMs: number, timeZone: string): number {
  switch (grain) {
    case '15m':
      return floorTo(instantMs, 15 * MINUTE_MS);
    case 'hour':
      return floorTo(instantMs, 60 * MINUTE_MS);
    case 'day':
      return floorTo(instantMs, DAY_MS);
    case 'month': {
      const d = new Date(instantMs);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
    case 'local-day': {
      const local = localParts(instantMs, timeZone);
      return Date.UTC(local.year, local.month - 1, local.day);
    }
    case 'local-month': {
      const local = localParts(instantMs, timeZone);
      return Date.UTC(local.year, local.month - 1, 1);
    }
  }
}

/** Length in minutes of the bucket `bucket` of `grain` for a site in `timeZone` (DST days: 1380 or 1500). */
export function bucketMinutes(grain: GrainId, bucket: number, timeZone: string): number {
  switch (grain) {
    case '15m':
      return 15;
    case 'hour':
      return 60;
    case 'day':
      return 1_440;
    case 'month': {
      const d = new Date(bucket);
      return (Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - bucket) / MINUTE_MS;
    }
    case 'local-day':
    case 'local-month':
      return cachedIn(zoneCache(grain === 'local-day' ? localDayMinutesCache : localMonthMinutesCache, timeZone), bucket, () => {
        const label = DateTime.fromMillis(bucket, { zone: 'utc' });
        const start = DateTime.fromObject({ year: label.year, month: label.month, day: label.day }, { zone: timeZone });
        const end = grain === 'local-day' ? start.plus({ days: 1 }) : start.plus({ months: 1 });
        return (end.toMillis() - start.toMillis()) / MINUTE_MS;
      });
  }
}

/** Minutes of the local calendar day (in `timeZone`) that holds `instantMs`: 1440, or 1380/1500 on DST days. */
export function localDayMinutes(instantMs: number, timeZone: string): number {
  return bucketMinutes('local-day', bucketOf('local-day', instantMs, timeZone), timeZone);
}

/** Local wall-clock time of an instant; throws a typed error for an unknown zone instead of returning NaNs. */
export function localTime(instantMs: number, timeZone: string): DateTime {
  const local = DateTime.fromMillis(instantMs, { zone: timeZone });
  if (!local.isValid) {
    throw new MeterflowError('MF_VIEW_INVALID', `unknown time zone "${timeZone}"`, { details: { timeZone } });
  }
  return local;
}

/** Local calendar fields of an instant: what buckets and tariff bands need. */
export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  /** ISO weekday, 1 = Monday … 7 = Sunday (DuckDB's isodow numbers the same way). */
  weekday: number;
}

/**
 * Local fields of an instant, computed from the zone's UTC offset. Luxon is far too slow to call
 * per fact on a year of readings, so the offset is memoised per zone and UTC day (one luxon call
 * per day when the offset is the same at both ends of the day) and per zone and 15-minute block on
 * the few days that contain a change (zone offsets and their changes are whole quarter hours).
 */
export function localParts(instantMs: number, timeZone: string): LocalParts {
  const local = new Date(instantMs + offsetMinutes(instantMs, timeZone) * MINUTE_MS);
  const weekday = local.getUTCDay();
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    weekday: weekday === 0 ? 7 : weekday,
  };
}

function offsetMinutes(instantMs: number, timeZone: string): number {
  const day = floorTo(instantMs, DAY_MS);
  const dayOffset = cachedIn(zoneCache(dayOffsetCache, timeZone), day, () => {
    const atStart = localTime(day, timeZone).offset;
    return localTime(day + DAY_MS, timeZone).offset === atStart ? atStart : Number.NaN;
  });
  if (!Number.isNaN(dayOffset)) return dayOffset;
  const block = floorTo(instantMs, 15 * MINUTE_MS);
  return cachedIn(zoneCache(blockOffsetCache, timeZone), block, () => localTime(block, timeZone).offset);
}

/** Per time zone, then per number (UTC day, 15-minute block, bucket): no key string is built per call. */
type ZoneCaches = Map<string, Map<number, number>>;
const dayOffsetCache: ZoneCaches = new Map();
const blockOffsetCache: ZoneCaches = new Map();
const localDayMinutesCache: ZoneCaches = new Map();
const localMonthMinutesCache: ZoneCaches = new Map();
/** Bounded (per zone) so a long-running process cannot grow it forever (a year of 15-minute blocks fits). */
const CACHE_LIMIT = 200_000;

function zoneCache(caches: ZoneCaches, timeZone: string): Map<number, number> {
  let cache = caches.get(timeZone);
  if (cache === undefined) {
    cache = new Map();
    caches.set(timeZone, cache);
  }
  return cache;
}

function cachedIn(cache: Map<number, number>, key: number, compute: () => number): number {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const value = compute();
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, value);
  return value;
}

function floorTo(ms: number, step: number): number {
  return Math.floor(ms / step) * step;
}
