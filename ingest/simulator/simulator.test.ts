import { describe, expect, it } from 'vitest';
import type { MeterReading } from '../../schemas/reading.ts';
import { createValidationContext } from '../validation/context.ts';
import { validateReading } from '../validation/validate-reading.ts';
import { injectFaults } from './faults.ts';
import { simulatedFleet, simulatedMeter } from './fleet.ts';
import { simulateReadings } from './generate.ts';
import { createPacer } from './pacing.ts';

const HOUR = 3_600_000;
const base = { seed: 1, meters: 50, intervalMinutes: 30 as const, start: Date.UTC(2024, 0, 8), end: Date.UTC(2024, 0, 10) };

describe('simulateReadings', () => {
  it('same seed, same output; another seed differs', () => {
    const a = [...simulateReadings(base)];
    expect([...simulateReadings(base)]).toEqual(a);
    const b = [...simulateReadings({ ...base, seed: 2 })];
    expect(b).not.toEqual(a);
    expect(a.length).toBeGreaterThan(50 * 96);
  });

  it('is in time order, interval-aligned, and every reading passes validation against the fleet registry', () => {
    const readings = [...simulateReadings(base)];
    const ctx = createValidationContext({ meters: [...simulatedFleet(base)], now: () => base.end, registers: false });
    for (let i = 1; i < readings.length; i++)
      expect((readings[i] as MeterReading).intervalStart).toBeGreaterThanOrEqual((readings[i - 1] as MeterReading).intervalStart);
    const failed = readings.map((r) => validateReading(r, ctx)).filter((r) => !r.ok);
    expect(failed).toEqual([]);
  });

  it('a shard of the fleet gives exactly that slice of meters', () => {
    const whole = [...simulateReadings({ ...base, meters: 10 })].filter((r) => r.meterId === 'sim:7');
    const shard = [...simulateReadings({ ...base, meters: 3, firstMeter: 5 })].filter((r) => r.meterId === 'sim:7');
    expect(shard).toEqual(whole);
  });

  it('supports 1, 15, 30 and 60 minute intervals', () => {
    for (const intervalMinutes of [1, 15, 30, 60] as const) {
      const n = [...simulateReadings({ ...base, meters: 1, pvShare: 0, intervalMinutes, end: base.start + HOUR })].length;
      expect(n).toBe(60 / intervalMinutes);
    }
  });

  it('residential load: evening peak above the night trough', () => {
    const opts = { ...base, meters: 200, commercialShare: 0, pvShare: 0, start: Date.UTC(2024, 2, 4), end: Date.UTC(2024, 2, 11) };
    const fleet = new Map([...simulatedFleet(opts)].map((m) => [m.meterId, m]));
    const byLocalHour = new Array<number>(24).fill(0);
    const formats = new Map<string, Intl.DateTimeFormat>();
    for (const r of simulateReadings(opts)) {
      const zone = fleet.get(r.meterId)?.timeZone ?? 'UTC';
      let format = formats.get(zone);
      if (format === undefined) {
        format = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', hourCycle: 'h23', timeZone: zone });
        formats.set(zone, format);
      }
      const hour = Number(format.format(r.intervalStart));
      byLocalHour[hour] = (byLocalHour[hour] ?? 0) + r.value;
    }
    const evening = byLocalHour[19] ?? 0;
    const night = byLocalHour[3] ?? 0;
    expect(evening).toBeGreaterThan(2.5 * night);
  });

  it('PV: zero at night, positive at noon in summer, more in summer than winter', () => {
    const opts = { seed: 5, meters: 40, pvShare: 1, intervalMinutes: 60 as const };
    const london = [...simulatedFleet(opts)].filter((m) => m.timeZone === 'Europe/London').map((m) => m.meterId);
    expect(london.length).toBeGreaterThan(0);
    const exportOf = (start: number) =>
      [...simulateReadings({ ...opts, start, end: start + HOUR })].filter((r) => r.channel === 'export' && london.includes(r.meterId));
    const summerNoon = exportOf(Date.UTC(2024, 5, 21, 11)); // 12:00 BST
    const summerMidnight = exportOf(Date.UTC(2024, 5, 21, 23));
    const winterNoon = exportOf(Date.UTC(2024, 11, 21, 12));
    expect(summerNoon.every((r) => r.value > 0)).toBe(true);
    expect(summerMidnight.every((r) => r.value === 0)).toBe(true);
    const sum = (rs: MeterReading[]) => rs.reduce((s, r) => s + r.value, 0);
    expect(sum(summerNoon)).toBeGreaterThan(sum(winterNoon));
  });

  it('meters are a pure function of (seed, index): registry and generator agree', () => {
    const m = simulatedMeter({ seed: 9, meters: 1_000_000, intervalMinutes: 15 }, 999_999);
    expect(m).toEqual(simulatedMeter({ seed: 9, meters: 1_000_000, intervalMinutes: 15 }, 999_999));
    expect(m.meterId).toBe('sim:999999');
    // A million-meter fleet is lazy: taking the first readings does not build the fleet.
    const it = simulateReadings({ seed: 9, meters: 1_000_000, intervalMinutes: 15, start: 0, end: HOUR });
    expect(it.next().value?.meterId).toBe('sim:0');
  });
});

describe('injectFaults', () => {
  it('tags faults at roughly the configured rates, and counts gaps', () => {
    const source = [...simulateReadings({ ...base, meters: 200 })];
    const { items, tally } = injectFaults(source, {
      seed: 3,
      duplicateRate: 0.02,
      gapRate: 0.03,
      lateRate: 0.01,
      badValueRate: 0.04,
      lateBy: 50,
    });
    const out = [...items];
    const tagged = (f: string) => out.filter((i) => i.fault === f).length;
    const n = source.length;
    expect(tagged('duplicate')).toBe(tally.duplicate);
    expect(tagged('late')).toBe(tally.late);
    expect(tagged('bad-value')).toBe(tally['bad-value']);
    expect(out.length).toBe(n + tally.duplicate - tally.gap);
    for (const [kind, rate] of [
      ['duplicate', 0.02],
      ['gap', 0.03],
      ['late', 0.01],
      ['bad-value', 0.04],
    ] as const) {
      expect(tally[kind] / n).toBeGreaterThan(rate * 0.8);
      expect(tally[kind] / n).toBeLessThan(rate * 1.2);
    }
  });

  it('late readings really arrive out of order, and bad values fail validation', () => {
    const opts = { ...base, meters: 100 };
    const { items } = injectFaults(simulateReadings(opts), { seed: 4, lateRate: 0.02, badValueRate: 0.02, lateBy: 500 });
    const out = [...items];
    let outOfOrder = 0;
    let maxSeen = 0;
    for (const i of out) {
      if (i.reading.intervalStart < maxSeen) outOfOrder++;
      maxSeen = Math.max(maxSeen, i.reading.intervalStart);
    }
    expect(outOfOrder).toBeGreaterThan(0);
    const ctx = createValidationContext({ meters: [...simulatedFleet(opts)], now: () => opts.end, registers: false });
    const bad = out.filter((i) => i.fault === 'bad-value');
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.filter((i) => validateReading(i.reading, ctx).ok)).toEqual([]);
  });

  it('is deterministic', () => {
    const run = () => [...injectFaults(simulateReadings({ ...base, meters: 20 }), { seed: 8, duplicateRate: 0.05, gapRate: 0.05 }).items];
    expect(run()).toEqual(run());
  });
});

describe('createPacer', () => {
  it('real time, speed-up and as fast as possible', () => {
    const t0 = Date.UTC(2024, 0, 1);
    expect(createPacer({ mode: 'real-time' }, t0, 1000).delayMs(t0 + 60_000, 1000)).toBe(60_000);
    expect(createPacer({ mode: 'speed-up', factor: 60 }, t0, 1000).delayMs(t0 + 60_000, 1000)).toBe(1000);
    expect(createPacer({ mode: 'speed-up', factor: 60 }, t0, 1000).delayMs(t0 + 60_000, 5000)).toBe(0);
    expect(createPacer({ mode: 'as-fast-as-possible' }, t0, 1000).delayMs(t0 + HOUR, 0)).toBe(0);
    expect(() => createPacer({ mode: 'speed-up', factor: 0 }, t0, 0)).toThrow(/factor/);
  });
});
