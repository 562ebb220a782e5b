import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Meter } from '../../schemas/reading.ts';
import { AUSGRID_INTERVAL_MINUTES, AUSGRID_TIME_ZONE, ausgridMeterId } from './ausgrid.ts';
import { readCsvRecords } from './csv-records.ts';
import { LCL_INTERVAL_MINUTES, lclMeterId } from './lcl.ts';
import { OPSD_INTERVAL_MINUTES, opsdChannelColumns } from './opsd.ts';
import { badHeader } from './source-helpers.ts';

/**
 * Meter registries for the real data sets, so later layers can load meters before replaying.
 *
 * Rated power (the spike limit) is the size of the service connection, not the data's maximum:
 * - UK and Australian homes: single phase 100 A × 230 V ≈ 23 kW (LCL's highest half hour in 2013 is
 *   6.5 kWh = 13 kW; Ausgrid customer 12's highest is 4 kW);
 * - German homes (OPSD): three phase 63 A × 230 V × 3 ≈ 43 kW.
 */
export const RATED_KW = { singlePhase100A: 23, threePhase63A: 43 } as const;

/**
 * LCL households from lcl-2013-households.csv (LCLid,stdorToU,Acorn,Acorn_grouped,file):
 * - one site per household (siteId = meter id);
 * - region `London/<Acorn_grouped>` (Affluent, Comfortable, Adversity; "ACORN-U" → Unclassified):
 *   LCL publishes no location finer than London, and the socio-economic group is the dimension
 *   analysts group these households by;
 * - tariff `lcl-std` or `lcl-tou` (the trial's flat and dynamic time-of-use tariffs).
 */
export async function lclMeters(householdsCsv: string): Promise<Meter[]> {
  const meters: Meter[] = [];
  let header: string[] | undefined;
  for await (const record of readCsvRecords(householdsCsv)) {
    if (record.fields === undefined) continue;
    if (header === undefined) {
      header = record.fields.map((h) => h.trim());
      if (header[0] !== 'LCLid' || header[1] !== 'stdorToU' || header[3] !== 'Acorn_grouped') {
        throw badHeader(householdsCsv, 'LCLid,stdorToU,Acorn,Acorn_grouped,file', record.fields);
      }
      continue;
    }
    const [id, tariff, , group] = record.fields.map((f) => f.trim());
    if (id === undefined || id === '') continue;
    const meterId = lclMeterId(id);
    meters.push({
      meterId,
      siteId: meterId,
      region: `London/${group === undefined || group === '' || group.startsWith('ACORN-') ? 'Unclassified' : group}`,
      timeZone: 'Europe/London',
      tariff: tariff?.toLowerCase() === 'tou' ? 'lcl-tou' : 'lcl-std',
      ratedKw: RATED_KW.singlePhase100A,
      readingKind: 'interval',
      intervalMinutes: LCL_INTERVAL_MINUTES,
    });
  }
  return meters;
}

/**
 * OPSD meters from the headers of the household files: the household meter (grid import/export)
 * and, where the file has pv, the PV generation meter, both on site `opsd:<household>` in Konstanz.
 */
export async function opsdMeters(dir: string): Promise<Meter[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.csv')).sort();
  const meters = new Map<string, Meter>();
  for (const f of files) {
    for await (const record of readCsvRecords(join(dir, f))) {
      for (const c of opsdChannelColumns(record.fields ?? [])) {
        const siteId = c.meterId.replace(/:pv$/, '');
        meters.set(c.meterId, {
          meterId: c.meterId,
          siteId,
          region: 'DE/Konstanz',
          timeZone: 'Europe/Berlin',
          tariff: c.meterId.endsWith(':pv') ? 'de-pv-feed-in' : 'de-residential',
          ratedKw: RATED_KW.threePhase63A,
          readingKind: 'register',
          intervalMinutes: OPSD_INTERVAL_MINUTES,
        });
      }
      break; // the header is all we need
    }
  }
  return [...meters.values()];
}

/** The Ausgrid customer's meter (GC import and GG export share it); CL, if present, is its own meter. */
export async function ausgridMeters(path: string): Promise<Meter[]> {
  const meterId = ausgridMeterId(path);
  const base: Meter = {
    meterId,
    siteId: meterId,
    region: 'AU/NSW/Ausgrid',
    timeZone: AUSGRID_TIME_ZONE,
    tariff: 'ausgrid-residential',
    ratedKw: RATED_KW.singlePhase100A,
    readingKind: 'interval',
    intervalMinutes: AUSGRID_INTERVAL_MINUTES,
  };
  const meters = [base];
  for await (const record of readCsvRecords(path)) {
    if (record.fields?.some((h) => h.trim().toUpperCase() === 'CL'))
      meters.push({ ...base, meterId: `${meterId}:cl`, tariff: 'ausgrid-controlled-load' });
    break;
  }
  return meters;
}
