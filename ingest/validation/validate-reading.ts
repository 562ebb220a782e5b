import { IANAZone } from 'luxon';
import type { Meter, MeterReading } from '../../schemas/reading.ts';
import type { ValidationContext } from './context.ts';
import { type Rejection, reject } from './reasons.ts';

/**
 * VEE (validation) for one reading — the single rule set every input path (Kafka decode, HTTP,
 * file replay, simulator) runs. Pure apart from advancing ctx.registers on an accepted register read.
 * Never throws, whatever it is given: readings come from decoders and parsers, and a bug upstream
 * must end in the dead-letter topic, not in a crashed consumer.
 *
 * Rules run cheapest and most fundamental first, so the reason is the root cause (a NaN value is
 * NOT_FINITE, not also a spike).
 */
export type ValidationResult = { ok: true; reading: MeterReading } | Rejection;

const CHANNELS = new Set(['import', 'export']);
const KINDS = new Set(['interval', 'register']);
const QUALITIES = new Set(['actual', 'estimated', 'edited']);

export function validateReading(reading: MeterReading, ctx: ValidationContext): ValidationResult {
  try {
    return runRules(reading, ctx);
  } catch (err) {
    // Only reachable through a hostile object (a throwing getter); still a refusal, not a crash.
    return reject('MALFORMED', `reading could not be inspected: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function runRules(r: MeterReading, ctx: ValidationContext): ValidationResult {
  const shape = checkShape(r);
  if (shape !== undefined) return shape;

  if (!Number.isFinite(r.value)) return reject('NOT_FINITE', `value ${r.value} of meter ${r.meterId} is not a finite number`);

  const meter = ctx.meter(r.meterId);
  if (meter === undefined) return reject('UNKNOWN_METER', `meter "${r.meterId}" is not in the meter registry`);

  if (r.intervalMinutes !== meter.intervalMinutes) {
    return reject(
      'INTERVAL_LENGTH_MISMATCH',
      `interval of ${r.intervalMinutes} min does not match meter ${r.meterId}'s ${meter.intervalMinutes}-min interval`,
    );
  }
  if (r.kind !== meter.readingKind) {
    return reject('KIND_MISMATCH', `a ${r.kind} reading does not match meter ${r.meterId}, which sends ${meter.readingKind} readings`);
  }
  if (!isAligned(r.intervalStart, r.intervalMinutes, meter)) {
    return reject(
      'MISALIGNED_INTERVAL',
      `interval start ${iso(r.intervalStart)} is not on a ${r.intervalMinutes}-min boundary (UTC or ${meter.timeZone})`,
    );
  }

  // A reading exists once its interval has ended, so the END is what may not lie in the future.
  const now = ctx.now();
  const end = r.intervalStart + r.intervalMinutes * 60_000;
  const latestEnd = now + ctx.futureToleranceMs;
  if (end > latestEnd) {
    return reject('FUTURE_TIMESTAMP', `interval ending ${iso(end)} is after now + tolerance (${iso(latestEnd)})`);
  }
  const oldest = now - ctx.retentionMs;
  if (r.intervalStart < oldest) {
    return reject('TOO_OLD', `interval start ${iso(r.intervalStart)} is before the retention horizon ${iso(oldest)}`);
  }

  if (r.value < 0) return reject('NEGATIVE_VALUE', `value ${r.value} kWh is negative (meter ${r.meterId}, ${r.channel})`);

  if (r.kind === 'interval') {
    // Energy in the interval over its length in hours is the average power; above the rated maximum it is a spike.
    const averageKw = r.value / (r.intervalMinutes / 60);
    if (averageKw > meter.ratedKw) {
      return reject(
        'SPIKE_OVER_RATED',
        `${r.value} kWh in ${r.intervalMinutes} min is an average of ${round(averageKw)} kW, above meter ${r.meterId}'s rated ${meter.ratedKw} kW`,
      );
    }
  } else {
    const backwards = checkRegister(r, ctx);
    if (backwards !== undefined) return backwards;
    ctx.registers?.record(r);
  }
  return { ok: true, reading: r };
}

/** Flags, never repairs: a register lower than an earlier read (or higher than a later one) is refused as is. */
function checkRegister(r: MeterReading, ctx: ValidationContext): Rejection | undefined {
  const last = ctx.registers?.get(r.meterId, r.channel);
  if (last === undefined || last.intervalStart === r.intervalStart) return undefined;
  const later = r.intervalStart > last.intervalStart;
  if (later ? r.value < last.value : r.value > last.value) {
    return reject(
      'REGISTER_BACKWARDS',
      `${r.channel} register ${r.value} kWh at ${iso(r.intervalStart)} is ${later ? 'below' : 'above'} the ${last.value} kWh read at ${iso(last.intervalStart)} (meter ${r.meterId})`,
    );
  }
  return undefined;
}

function checkShape(r: unknown): Rejection | undefined {
  if (typeof r !== 'object' || r === null) return reject('MALFORMED', `reading is ${r === null ? 'null' : typeof r}, not an object`);
  const o = r as Record<string, unknown>;
  if (typeof o.meterId !== 'string' || o.meterId.length === 0) return bad('meterId', o.meterId, 'a non-empty string');
  if (typeof o.intervalStart !== 'number' || !Number.isSafeInteger(o.intervalStart)) {
    return bad('intervalStart', o.intervalStart, 'integer epoch milliseconds');
  }
  if (typeof o.intervalMinutes !== 'number' || !Number.isInteger(o.intervalMinutes) || o.intervalMinutes <= 0) {
    return bad('intervalMinutes', o.intervalMinutes, 'a positive integer');
  }
  if (typeof o.channel !== 'string' || !CHANNELS.has(o.channel)) return bad('channel', o.channel, 'import or export');
  if (typeof o.kind !== 'string' || !KINDS.has(o.kind)) return bad('kind', o.kind, 'interval or register');
  if (typeof o.value !== 'number') return bad('value', o.value, 'a number');
  if (typeof o.quality !== 'string' || !QUALITIES.has(o.quality)) return bad('quality', o.quality, 'actual, estimated or edited');
  if (typeof o.source !== 'string') return bad('source', o.source, 'a string');
  if (typeof o.correction !== 'boolean') return bad('correction', o.correction, 'a boolean');
  return undefined;
}

function bad(field: string, value: unknown, expected: string): Rejection {
  return reject('MALFORMED', `field ${field} is ${describe(value)}, expected ${expected}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return typeof value;
}

const zones = new Map<string, IANAZone>();

/**
 * On a boundary in UTC, or failing that in the site's zone: a 60-min interval in Asia/Kolkata (+05:30)
 * starts at :30 UTC. The UTC test answers almost every reading without a zone lookup.
 */
function isAligned(start: number, minutes: number, meter: Meter): boolean {
  const length = minutes * 60_000;
  if (start % length === 0) return true;
  let zone = zones.get(meter.timeZone);
  if (zone === undefined) {
    zone = IANAZone.create(meter.timeZone);
    zones.set(meter.timeZone, zone);
  }
  if (!zone.isValid) return false;
  const local = start + zone.offset(start) * 60_000;
  return ((local % length) + length) % length === 0;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
