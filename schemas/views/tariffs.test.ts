import { describe, expect, it } from 'vitest';
import { centsPerKwhAt, defineTariff, effectiveTariff, tariffPriceTable } from './tariffs.ts';

describe('tariffs', () => {
  it('price by the local hour and day type of the site', () => {
    // 16:30 UTC on Monday 1 July 2013 = 17:30 BST: weekday peak.
    expect(centsPerKwhAt('ToU', Date.UTC(2013, 6, 1, 16, 30), 'Europe/London')).toBe(26);
    // The same instant in January (GMT) is 16:30 local: also peak; 06:30 is night.
    expect(centsPerKwhAt('ToU', Date.UTC(2013, 0, 7, 6, 30), 'Europe/London')).toBe(7.5);
    // Saturday evening: no peak at weekends.
    expect(centsPerKwhAt('ToU', Date.UTC(2013, 0, 5, 17), 'Europe/London')).toBe(15.5);
    expect(centsPerKwhAt('Std', Date.UTC(2013, 0, 5, 17), 'Europe/London')).toBe(14.228);
  });

  it('fall back to the default tariff for undeclared ids', () => {
    expect(effectiveTariff('nope').id).toBe('default');
  });

  it('expand to one price per (tariff, day type, hour)', () => {
    expect(tariffPriceTable()).toHaveLength(3 * 2 * 24);
  });

  it('reject bands with gaps or overlaps', () => {
    const base = { id: 'X', currency: 'GBP' as const, timeZoneSource: 'site' as const, standingChargeCentsPerDay: 1 };
    expect(() => defineTariff({ ...base, bands: [{ name: 'a', days: 'all', fromHour: 0, toHour: 23, centsPerKwh: 1 }] })).toThrow(
      expect.objectContaining({ code: 'MF_TARIFF_INVALID' }),
    );
    expect(() =>
      defineTariff({
        ...base,
        bands: [
          { name: 'a', days: 'all', fromHour: 0, toHour: 24, centsPerKwh: 1 },
          { name: 'b', days: 'weekend', fromHour: 0, toHour: 1, centsPerKwh: 1 },
        ],
      }),
    ).toThrow(/weekend hour 0 is in 2 bands/);
  });
});
