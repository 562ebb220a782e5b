import type { Meter } from '../../schemas/reading.ts';
import { hashUnit, PURPOSE } from './random.ts';

/** Where simulated sites are; time zones chosen to include DST in both hemispheres and a +05:30 zone. */
export const SIM_REGIONS = [
  { region: 'UK/London', timeZone: 'Europe/London', southern: false },
  { region: 'DE/Berlin', timeZone: 'Europe/Berlin', southern: false },
  { region: 'US/NewYork', timeZone: 'America/New_York', southern: false },
  { region: 'AU/Sydney', timeZone: 'Australia/Sydney', southern: true },
  { region: 'IN/Pune', timeZone: 'Asia/Kolkata', southern: false },
] as const;

export interface FleetOptions {
  seed: number;
  meters: number;
  intervalMinutes: 1 | 15 | 30 | 60;
  /** Share of meters with rooftop PV (export channel); default 0.3. */
  pvShare?: number;
  /** Share of commercial meters; default 0.1. */
  commercialShare?: number;
}

export interface SimulatedMeter extends Meter {
  index: number;
  profile: 'residential' | 'commercial';
  southern: boolean;
  /** Peak load scale, kW. */
  loadKw: number;
  /** PV size, kWp; 0 without PV. */
  pvKwp: number;
}

/** Meter `index` of the fleet: a pure function of (seed, index), so no fleet is ever held in memory. */
export function simulatedMeter(opts: FleetOptions, index: number): SimulatedMeter {
  const { seed } = opts;
  const commercial = hashUnit(seed, index, PURPOSE.kind) < (opts.commercialShare ?? 0.1);
  const hasPv = hashUnit(seed, index, PURPOSE.pv) < (opts.pvShare ?? 0.3);
  const place = SIM_REGIONS[Math.floor(hashUnit(seed, index, PURPOSE.region) * SIM_REGIONS.length)] ?? SIM_REGIONS[0];
  const scale = hashUnit(seed, index, PURPOSE.scale);
  const loadKw = commercial ? 10 + 50 * scale : 0.6 + scale;
  const pvKwp = hasPv ? (commercial ? 10 + 40 * hashUnit(seed, index, PURPOSE.pvSize) : 3 + 5 * hashUnit(seed, index, PURPOSE.pvSize)) : 0;
  const meterId = `sim:${index}`;
  return {
    meterId,
    siteId: `sim:site:${index}`,
    region: place.region,
    timeZone: place.timeZone,
    tariff: commercial ? 'sim-commercial' : hashUnit(seed, index, PURPOSE.tariff) < 0.2 ? 'sim-tou' : 'sim-flat',
    // Room above the largest simulated value (load ×1.6 with noise, or PV at full sun) so only injected spikes trip the rule.
    ratedKw: Math.ceil(Math.max(loadKw * 2.5, pvKwp * 1.3)),
    readingKind: 'interval',
    intervalMinutes: opts.intervalMinutes,
    index,
    profile: commercial ? 'commercial' : 'residential',
    southern: place.southern,
    loadKw,
    pvKwp,
  };
}

/** The registry of the simulated fleet, one meter at a time. */
export function* simulatedFleet(opts: FleetOptions): Generator<Meter> {
  for (let i = 0; i < opts.meters; i++) {
    const { index: _i, profile: _p, southern: _s, loadKw: _l, pvKwp: _k, ...meter } = simulatedMeter(opts, i);
    yield meter;
  }
}
