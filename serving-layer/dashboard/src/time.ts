/** Day boundaries and labels in the time zone the user picked (buckets are UTC instants). */

const TZ_STORAGE = 'meterflow.tz';

export const ZONES = ['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney'];

export function timeZone(): string {
  return localStorage.getItem(TZ_STORAGE) ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
}

export function setTimeZone(tz: string): void {
  localStorage.setItem(TZ_STORAGE, tz);
}

/** Offset of `zone` from UTC at instant `ms`, in ms. */
function offsetAt(ms: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const n = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - Math.floor(ms / 1000) * 1000;
}

/** The instant local midnight of `date` (YYYY-MM-DD) is in `zone` (DST-safe: two passes). */
export function localMidnight(date: string, zone: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const guess = Date.UTC(y, m - 1, d);
  const first = guess - offsetAt(guess, zone);
  return guess - offsetAt(first, zone);
}

/** [from, to) of the local day as instants: 23, 24 or 25 hours. */
export function dayRange(date: string, zone: string): { from: number; to: number } {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const next = new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
  return { from: localMidnight(date, zone), to: localMidnight(next, zone) };
}

export const iso = (ms: number) => new Date(ms).toISOString();

export function hourLabel(ms: number, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));
}

export function dateOf(ms: number, zone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
}
