import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Meter, MeterReading } from '../../schemas/reading.ts';
import { createValidationContext } from './context.ts';
import { REJECT_REASONS, type RejectReason } from './reasons.ts';
import { RegisterTracker } from './register-tracker.ts';
import { validateReading } from './validate-reading.ts';

const NOW = Date.UTC(2024, 5, 1, 12, 0);
const HOUR = 3_600_000;

const meters: Meter[] = [
  {
    meterId: 'm1',
    siteId: 's1',
    region: 'London',
    timeZone: 'Europe/London',
    tariff: 'Std',
    ratedKw: 10,
    readingKind: 'interval',
    intervalMinutes: 30,
  },
  {
    meterId: 'r1',
    siteId: 's2',
    region: 'Konstanz',
    timeZone: 'Europe/Berlin',
    tariff: 'Std',
    ratedKw: 20,
    readingKind: 'register',
    intervalMinutes: 60,
  },
  {
    meterId: 'k1',
    siteId: 's3',
    region: 'Pune',
    timeZone: 'Asia/Kolkata',
    tariff: 'Std',
    ratedKw: 20,
    readingKind: 'interval',
    intervalMinutes: 60,
  },
];

function ctx(registers = new RegisterTracker()) {
  return createValidationContext({ meters, now: () => NOW, futureToleranceMs: 5 * 60_000, retentionMs: 30 * 24 * HOUR, registers });
}

const good: MeterReading = {
  meterId: 'm1',
  intervalStart: NOW - HOUR,
  intervalMinutes: 30,
  channel: 'import',
  kind: 'interval',
  value: 0.4,
  quality: 'actual',
  source: 'test',
  correction: false,
};
const register: MeterReading = {
  ...good,
  meterId: 'r1',
  intervalMinutes: 60,
  kind: 'register',
  value: 1000,
  intervalStart: NOW - 3 * HOUR,
};

function reasonOf(r: unknown, c = ctx()): RejectReason | 'ok' {
  const res = validateReading(r as MeterReading, c);
  return res.ok ? 'ok' : res.reason;
}

describe('validateReading accepts', () => {
  it('a plain interval reading', () => expect(validateReading(good, ctx())).toEqual({ ok: true, reading: good }));
  it('zero, and a value exactly at the rated power', () => {
    expect(reasonOf({ ...good, value: 0 })).toBe('ok');
    expect(reasonOf({ ...good, value: 5 })).toBe('ok'); // 5 kWh in 30 min = 10 kW = rated
  });
  it('an interval ending within the future tolerance (a meter clock a little ahead)', () => {
    const clockBehind = createValidationContext({ meters, now: () => NOW - 4 * 60_000, futureToleranceMs: 5 * 60_000 });
    expect(reasonOf({ ...good, intervalStart: NOW - 30 * 60_000 }, clockBehind)).toBe('ok');
  });
  it('a 60-min interval on a local-hour boundary in a half-hour zone (Asia/Kolkata, +05:30)', () => {
    expect(reasonOf({ ...good, meterId: 'k1', intervalMinutes: 60, intervalStart: NOW - 2 * HOUR + 30 * 60_000 })).toBe('ok');
  });
  it('a rising register, and a register read from a map or function registry', () => {
    const c = ctx();
    expect(reasonOf(register, c)).toBe('ok');
    expect(reasonOf({ ...register, intervalStart: register.intervalStart + HOUR, value: 1001.5 }, c)).toBe('ok');
    const byMap = createValidationContext({ meters: new Map(meters.map((m) => [m.meterId, m])), now: () => NOW });
    const byFn = createValidationContext({ meters: (id) => meters.find((m) => m.meterId === id), now: () => NOW });
    expect(validateReading(good, byMap).ok && validateReading(good, byFn).ok).toBe(true);
  });
  it('a duplicate or a correction of the same register interval (dedupe happens in the views)', () => {
    const c = ctx();
    expect(reasonOf(register, c)).toBe('ok');
    expect(reasonOf(register, c)).toBe('ok');
    expect(reasonOf({ ...register, value: 999, correction: true }, c)).toBe('ok');
  });
});

describe('validateReading rejects, one rule each, with a message naming value and limit', () => {
  const cases: [RejectReason, unknown, RegExp][] = [
    ['MALFORMED', { ...good, meterId: 42 }, /meterId is 42/],
    ['MALFORMED', { ...good, channel: 'sideways' }, /channel is "sideways", expected import or export/],
    ['MALFORMED', null, /null/],
    ['NOT_FINITE', { ...good, value: Number.NaN }, /value NaN/],
    ['NOT_FINITE', { ...good, value: Number.POSITIVE_INFINITY }, /Infinity/],
    ['UNKNOWN_METER', { ...good, meterId: 'ghost' }, /"ghost"/],
    ['INTERVAL_LENGTH_MISMATCH', { ...good, intervalMinutes: 15 }, /15 min .* 30-min/],
    ['KIND_MISMATCH', { ...good, kind: 'register' }, /register reading .* interval readings/],
    ['MISALIGNED_INTERVAL', { ...good, intervalStart: NOW - HOUR + 7 * 60_000 }, /not on a 30-min boundary/],
    [
      'FUTURE_TIMESTAMP',
      { ...good, intervalStart: NOW },
      /2024-06-01T12:30:00.000Z is after now \+ tolerance \(2024-06-01T12:05:00.000Z\)/,
    ],
    ['TOO_OLD', { ...good, intervalStart: NOW - 31 * 24 * HOUR }, /before the retention horizon 2024-05-02/],
    ['NEGATIVE_VALUE', { ...good, value: -0.1 }, /-0.1 kWh is negative/],
    ['SPIKE_OVER_RATED', { ...good, value: 5.5 }, /5.5 kWh in 30 min is an average of 11 kW, above .* rated 10 kW/],
  ];
  it.each(cases)('%s', (reason, reading, message) => {
    const res = validateReading(reading as MeterReading, ctx());
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.reason).toBe(reason);
      expect(res.message).toMatch(message);
    }
  });

  it('REGISTER_BACKWARDS: a later read below an earlier one, and an earlier read above a later one', () => {
    const c = ctx();
    expect(reasonOf(register, c)).toBe('ok');
    const res = validateReading({ ...register, intervalStart: register.intervalStart + HOUR, value: 999.9 }, c);
    expect(res).toMatchObject({ ok: false, reason: 'REGISTER_BACKWARDS' });
    if (!res.ok) expect(res.message).toMatch(/999.9 kWh .* below the 1000 kWh/);
    expect(reasonOf({ ...register, intervalStart: register.intervalStart - HOUR, value: 1000.1 }, c)).toBe('REGISTER_BACKWARDS');
  });

  it('a rejected register read does not move the state (the next good read still passes)', () => {
    const c = ctx();
    reasonOf(register, c);
    expect(reasonOf({ ...register, intervalStart: register.intervalStart + HOUR, value: 10 }, c)).toBe('REGISTER_BACKWARDS');
    expect(reasonOf({ ...register, intervalStart: register.intervalStart + 2 * HOUR, value: 1002 }, c)).toBe('ok');
  });

  it('the register rule is per channel and can be turned off', () => {
    const c = ctx();
    reasonOf(register, c);
    expect(reasonOf({ ...register, channel: 'export', intervalStart: register.intervalStart + HOUR, value: 1 }, c)).toBe('ok');
    const stateless = createValidationContext({ meters, now: () => NOW, registers: false });
    expect(stateless.registers).toBeUndefined();
  });
});

describe('validateReading never throws', () => {
  const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: fc.anything(), weight: 1 });
  const anyReadingLike = fc.record(
    {
      meterId: mostly(fc.oneof(fc.constantFrom('m1', 'r1', 'k1'), fc.string())),
      intervalStart: mostly(
        fc.oneof(
          fc.integer({ min: NOW / 1800_000 - 40 * 48, max: NOW / 1800_000 + 2 }).map((n) => n * 1800_000),
          fc.double(),
        ),
      ),
      intervalMinutes: mostly(fc.oneof(fc.constantFrom(1, 15, 30, 60), fc.integer())),
      channel: mostly(fc.constantFrom('import', 'export')),
      kind: mostly(fc.constantFrom('interval', 'register')),
      value: mostly(fc.double({ min: -1, max: 100 })),
      quality: mostly(fc.constantFrom('actual', 'estimated', 'edited')),
      source: mostly(fc.string()),
      correction: mostly(fc.boolean()),
    },
    { requiredKeys: ['meterId', 'intervalStart', 'intervalMinutes', 'channel', 'kind', 'value', 'quality', 'source', 'correction'] },
  );

  it('on arbitrary values and reading-like objects, always returning a known reason', () => {
    const c = ctx();
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.oneof({ arbitrary: fc.anything(), weight: 1 }, { arbitrary: anyReadingLike, weight: 4 }), (input) => {
        const res = validateReading(input as MeterReading, c);
        seen.add(res.ok ? 'ok' : res.reason);
        if (!res.ok) {
          expect(REJECT_REASONS).toContain(res.reason);
          expect(res.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 3000, seed: 7 },
    );
    expect(seen.size).toBeGreaterThan(6);
  });

  it('on an object whose getter throws', () => {
    const hostile = Object.defineProperty({}, 'meterId', {
      get() {
        throw new Error('boom');
      },
    });
    expect(reasonOf(hostile)).toBe('MALFORMED');
  });
});
