import { IANAZone } from 'luxon';
import { MeterflowError } from '../../core/errors.ts';

/** A wall-clock time read from a file, as if it were UTC (fields only, no zone yet). */
export function wallClockMs(y: number, mo: number, d: number, h: number, mi: number, s = 0): number {
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/**
 * The UTC instants a wall-clock time in `zone` can mean: one normally, none in the hour skipped when
 * clocks go forward, two in the hour repeated when they go back (earlier instant first). Works for any
 * zone from the offsets just before and after, so no DST rule is hard-coded.
 */
export function wallClockToUtc(wallMs: number, zone: IANAZone): number[] {
  const offsets = new Set([zone.offset(wallMs - 86_400_000), zone.offset(wallMs), zone.offset(wallMs + 86_400_000)]);
  const instants: number[] = [];
  for (const offset of offsets) {
    const utc = wallMs - offset * 60_000;
    if (zone.offset(utc) === offset) instants.push(utc);
  }
  return instants.sort((a, b) => a - b);
}

const zones = new Map<string, IANAZone>();

export function ianaZone(name: string): IANAZone {
  let zone = zones.get(name);
  if (zone === undefined) {
    zone = IANAZone.create(name);
    if (!zone.isValid) throw new MeterflowError('MF_CONFIG_INVALID', `unknown time zone "${name}"`, { details: { timeZone: name } });
    zones.set(name, zone);
  }
  return zone;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/;

/** "2013-01-01 00:30:00", "2012-10-12 00:30:00.0000000", "2011-07-01T00:00" → wall-clock ms; undefined if not that shape. */
export function parseWallClock(text: string): number | undefined {
  const m = DATE_TIME.exec(text.trim());
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const ms = wallClockMs(y, mo, d, h, mi, s);
  // Date.UTC rolls 2013-02-30 over to March; a real export never has such a date, so refuse it.
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return ms;
}
