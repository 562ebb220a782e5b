import { MeterflowError } from '../../core/errors.ts';
import { localParts } from './grains.ts';

/**
 * Tariffs are data. A tariff prices each kWh by the time-of-use band its interval *starts* in, read
 * in the site's local time (the meter's `timeZone`), plus a fixed standing charge per local day.
 * Both layers price from `tariffPriceTable()` (the TS fold looks prices up in it; the batch SQL
 * embeds it as a VALUES relation), so there is exactly one copy of the pricing logic.
 *
 * Prices are in minor units of the currency (pence for GBP) so sums stay readable.
 */
export type DayType = 'weekday' | 'weekend';

export interface TariffBand {
  name: string;
  /** Which days the band applies to. */
  days: 'all' | DayType;
  /** Local hours [fromHour, toHour), 0..24. */
  fromHour: number;
  toHour: number;
  centsPerKwh: number;
}

export interface Tariff {
  id: string;
  currency: 'GBP' | 'EUR' | 'AUD' | 'USD';
  /** Where the local time for bands comes from; only the site's zone is supported today. */
  timeZoneSource: 'site';
  /** Every (day type, hour) must fall in exactly one band; checked by defineTariff. */
  bands: readonly TariffBand[];
  standingChargeCentsPerDay: number;
}

export function defineTariff(tariff: Tariff): Tariff {
  for (const dayType of ['weekday', 'weekend'] as const) {
    for (let hour = 0; hour < 24; hour++) {
      const matches = tariff.bands.filter((b) => bandCovers(b, dayType, hour));
      if (matches.length !== 1) {
        throw new MeterflowError(
          'MF_TARIFF_INVALID',
          `tariff ${tariff.id}: ${dayType} hour ${hour} is in ${matches.length} bands (${matches.map((b) => b.name).join(', ') || 'none'}); it must be in exactly one`,
          { details: { tariff: tariff.id, dayType, hour } },
        );
      }
    }
  }
  for (const band of tariff.bands) {
    if (!(band.centsPerKwh >= 0) || !Number.isFinite(band.centsPerKwh)) {
      throw new MeterflowError('MF_TARIFF_INVALID', `tariff ${tariff.id}: band ${band.name} has an invalid price`, {
        details: { tariff: tariff.id },
      });
    }
  }
  if (!(tariff.standingChargeCentsPerDay >= 0)) {
    throw new MeterflowError('MF_TARIFF_INVALID', `tariff ${tariff.id}: standing charge must be >= 0`, { details: { tariff: tariff.id } });
  }
  return Object.freeze(tariff);
}

function bandCovers(band: TariffBand, dayType: DayType, hour: number): boolean {
  return (band.days === 'all' || band.days === dayType) && hour >= band.fromHour && hour < band.toHour;
}

/** The LCL trial's flat "Standard" tariff (single rate, 2013 prices, illustrative). */
export const STD = defineTariff({
  id: 'Std',
  currency: 'GBP',
  timeZoneSource: 'site',
  bands: [{ name: 'flat', days: 'all', fromHour: 0, toHour: 24, centsPerKwh: 14.228 }],
  standingChargeCentsPerDay: 18.5,
});

/**
 * Time-of-use, Economy-7-like: cheap nights, a weekday evening peak. (The real LCL "ToU" households
 * were on a dynamic tariff announced day-ahead; a static ToU shape is the honest approximation.)
 */
export const TOU = defineTariff({
  id: 'ToU',
  currency: 'GBP',
  timeZoneSource: 'site',
  bands: [
    { name: 'night', days: 'all', fromHour: 0, toHour: 7, centsPerKwh: 7.5 },
    { name: 'day', days: 'weekend', fromHour: 7, toHour: 24, centsPerKwh: 15.5 },
    { name: 'day', days: 'weekday', fromHour: 7, toHour: 16, centsPerKwh: 15.5 },
    { name: 'peak', days: 'weekday', fromHour: 16, toHour: 19, centsPerKwh: 26.0 },
    { name: 'evening', days: 'weekday', fromHour: 19, toHour: 24, centsPerKwh: 15.5 },
  ],
  standingChargeCentsPerDay: 21.0,
});

/** Applied to meters whose registry tariff id is not declared here (same rule in both layers). */
export const DEFAULT_TARIFF = defineTariff({
  id: 'default',
  currency: 'GBP',
  timeZoneSource: 'site',
  bands: [{ name: 'flat', days: 'all', fromHour: 0, toHour: 24, centsPerKwh: 15.0 }],
  standingChargeCentsPerDay: 20.0,
});

export const TARIFFS: readonly Tariff[] = [STD, TOU, DEFAULT_TARIFF];

const TARIFF_BY_ID = new Map(TARIFFS.map((t) => [t.id, t]));

/** The tariff a meter is billed under: its declared tariff, else DEFAULT_TARIFF. */
export function effectiveTariff(tariffId: string): Tariff {
  return TARIFF_BY_ID.get(tariffId) ?? DEFAULT_TARIFF;
}

/** One row per (tariff, day type, local hour): the table both layers price from. */
export interface TariffPriceRow {
  tariffId: string;
  weekend: boolean;
  localHour: number;
  centsPerKwh: number;
}

export function tariffPriceTable(tariffs: readonly Tariff[] = TARIFFS): TariffPriceRow[] {
  const rows: TariffPriceRow[] = [];
  for (const tariff of tariffs) {
    for (const weekend of [false, true]) {
      for (let hour = 0; hour < 24; hour++) {
        const band = tariff.bands.find((b) => bandCovers(b, weekend ? 'weekend' : 'weekday', hour)) as TariffBand;
        rows.push({ tariffId: tariff.id, weekend, localHour: hour, centsPerKwh: band.centsPerKwh });
      }
    }
  }
  return rows;
}

/** Tariff id → price by (weekend ? 24 : 0) + local hour, from the price table. */
const PRICE_INDEX = new Map<string, number[]>();
for (const r of tariffPriceTable()) {
  let prices = PRICE_INDEX.get(r.tariffId);
  if (prices === undefined) {
    prices = [];
    PRICE_INDEX.set(r.tariffId, prices);
  }
  prices[(r.weekend ? 24 : 0) + r.localHour] = r.centsPerKwh;
}

/** Price per kWh of an interval starting at `instantMs`, under `tariffId`, in the site's zone. */
export function centsPerKwhAt(tariffId: string, instantMs: number, timeZone: string): number {
  const local = localParts(instantMs, timeZone);
  // ISO weekday: 6 = Saturday, 7 = Sunday (DuckDB's isodow uses the same numbering).
  const weekend = local.weekday >= 6;
  return (PRICE_INDEX.get(effectiveTariff(tariffId).id) as number[])[(weekend ? 24 : 0) + local.hour] as number;
}
