import { IANAZone } from 'luxon';
import type { MeterReading } from '../../schemas/reading.ts';
import { type FleetOptions, SIM_REGIONS, type SimulatedMeter, simulatedMeter } from './fleet.ts';
import { commercialKw, pvKwPerKwp, residentialKw, seasonAt } from './profiles.ts';
import { hashUnit, PURPOSE } from './random.ts';

export interface SimulationOptions extends FleetOptions {
  /** UTC epoch ms; rounded down to an interval boundary. */
  start: number;
  /** UTC epoch ms, exclusive. */
  end: number;
  /** ± relative noise on every value; default 0.15. */
  noise?: number;
  /** Generate only meters [firstMeter, firstMeter + meters) of the fleet: lets several processes share one fleet. */
  firstMeter?: number;
}

const DAY = 86_400_000;

/**
 * Readings in time order (every meter's interval t before any interval t+1), generated lazily: memory
 * stays constant whatever the fleet size. Metering is gross, like Ausgrid's: import is the site's
 * load, export (on PV meters only) is the PV generation, each its own reading.
 */
export function* simulateReadings(opts: SimulationOptions): Generator<MeterReading> {
  const step = opts.intervalMinutes * 60_000;
  const hours = opts.intervalMinutes / 60;
  const noise = opts.noise ?? 0.15;
  const first = opts.firstMeter ?? 0;
  const zones = SIM_REGIONS.map((r) => IANAZone.create(r.timeZone));
  const regionIndex = new Map<string, number>(SIM_REGIONS.map((r, i) => [r.region, i]));
  // Meter parameters are cheap to recompute, but caching them for small fleets halves the work.
  const cache: SimulatedMeter[] | undefined = opts.meters <= 100_000 ? [] : undefined;
  const meterAt = (i: number): SimulatedMeter => {
    if (cache === undefined) return simulatedMeter(opts, i);
    let m = cache[i - first];
    if (m === undefined) {
      m = simulatedMeter(opts, i);
      cache[i - first] = m;
    }
    return m;
  };

  for (let t = Math.floor(opts.start / step) * step; t < opts.end; t += step) {
    // Local calendar facts once per zone per interval, not once per reading. The middle of the interval decides.
    const mid = t + step / 2;
    const local = zones.map((z) => {
      const localMs = mid + z.offset(mid) * 60_000;
      const d = new Date(localMs);
      const dayOfYear = Math.floor((localMs - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY);
      return {
        hour: (localMs % DAY) / 3_600_000,
        weekend: d.getUTCDay() === 0 || d.getUTCDay() === 6,
        dayOfYear,
        day: Math.floor(localMs / DAY),
      };
    });
    for (let i = first; i < first + opts.meters; i++) {
      const m = meterAt(i);
      const l = local[regionIndex.get(m.region) ?? 0] ?? (local[0] as (typeof local)[number]);
      const season = seasonAt(l.dayOfYear, m.southern);
      const shape = m.profile === 'commercial' ? commercialKw(l.hour, l.weekend, season) : residentialKw(l.hour, l.weekend, season);
      const jitter = 1 + noise * (2 * hashUnit(opts.seed, i, t, PURPOSE.noise) - 1);
      yield reading(m, t, 'import', round(shape * m.loadKw * jitter * hours));
      if (m.pvKwp > 0) {
        const clouds = 0.5 + 0.5 * hashUnit(opts.seed, i, l.day, PURPOSE.clouds);
        yield reading(m, t, 'export', round(pvKwPerKwp(l.hour, season, clouds) * m.pvKwp * hours));
      }
    }
  }
}

function reading(m: SimulatedMeter, intervalStart: number, channel: 'import' | 'export', value: number): MeterReading {
  return {
    meterId: m.meterId,
    intervalStart,
    intervalMinutes: m.intervalMinutes,
    channel,
    kind: 'interval',
    value,
    quality: 'actual',
    source: 'simulator',
    correction: false,
  };
}

/** Meters report to the watt-hour. */
function round(kwh: number): number {
  return Math.round(kwh * 1000) / 1000;
}
