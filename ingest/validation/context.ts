import type { Meter } from '../../schemas/reading.ts';
import { RegisterTracker } from './register-tracker.ts';

/** Everything validation needs besides the reading; built once per input path. */
export interface ValidationContext {
  meter: (meterId: string) => Meter | undefined;
  now: () => number;
  /** How far past now an interval may end (meter clocks drift), ms. */
  futureToleranceMs: number;
  /** Readings that start before now − retentionMs are TOO_OLD: views no longer keep that time. */
  retentionMs: number;
  /** Per-channel register state; without it the REGISTER_BACKWARDS rule is off. */
  registers?: RegisterTracker;
}

export const VALIDATION_DEFAULTS = {
  futureToleranceMs: 5 * 60_000,
  retentionMs: 400 * 86_400_000,
} as const;

export interface ValidationContextOptions {
  meters: ReadonlyMap<string, Meter> | ((meterId: string) => Meter | undefined) | readonly Meter[];
  now?: () => number;
  futureToleranceMs?: number;
  retentionMs?: number;
  /** Pass false to turn the register rule off (e.g. a stateless HTTP edge); default: a fresh tracker. */
  registers?: RegisterTracker | false;
}

export function createValidationContext(opts: ValidationContextOptions): ValidationContext {
  const ctx: ValidationContext = {
    meter: meterLookup(opts.meters),
    now: opts.now ?? Date.now,
    futureToleranceMs: opts.futureToleranceMs ?? VALIDATION_DEFAULTS.futureToleranceMs,
    retentionMs: opts.retentionMs ?? VALIDATION_DEFAULTS.retentionMs,
  };
  if (opts.registers !== false) ctx.registers = opts.registers ?? new RegisterTracker();
  return ctx;
}

function meterLookup(meters: ValidationContextOptions['meters']): (meterId: string) => Meter | undefined {
  if (typeof meters === 'function') return meters;
  const map = Array.isArray(meters) ? new Map(meters.map((m) => [m.meterId, m])) : (meters as ReadonlyMap<string, Meter>);
  return (meterId) => map.get(meterId);
}
