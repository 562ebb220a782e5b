import { basename } from 'node:path';
import type { Channel, MeterReading } from '../../schemas/reading.ts';
import { readCsvRecords } from './csv-records.ts';
import { ianaZone, parseWallClock, wallClockToUtc } from './local-time.ts';
import { parseDecimal } from './numbers.ts';
import { badHeader, rejectItem } from './source-helpers.ts';
import type { SourceItem } from './types.ts';

/**
 * Ausgrid "solar home electricity data", one customer's year in long form:
 *   ,GC,GG
 *   2011-07-01 00:00:00,0.392,0.0
 * (an optional CL column, controlled load, is read too). Values are AVERAGE kW over the half hour,
 * so kWh = kW × 0.5.
 *
 * Decisions (from the data, customer 12, 2011-07-01 .. 2012-06-30, 48 rows every day):
 * - times are Australia/Sydney wall clock WITH daylight saving: the PV output's centre of mass moves
 *   from ~12:20 in winter to ~13:20 from October to March;
 * - a time labels the START of its half hour (rows run 00:00 .. 23:30, and the DST anomalies below
 *   sit on the 02:00 and 02:30 slots, the two half hours the clock change removes or repeats);
 * - the day clocks go forward (2011-10-02) still has 02:00 and 02:30 rows, both 0.0: those local times
 *   never existed, so each cell is rejected as NONEXISTENT_LOCAL_TIME (the day has 46 readings per channel);
 * - the day clocks go back (2012-04-01) has one 02:00 and one 02:30 row for two real half hours each,
 *   holding about twice the neighbouring values (1.092 and 1.128 kW between 0.67 and 0.45): the export
 *   added both occurrences. Each such cell becomes two readings, one per occurrence, each with half
 *   the energy, quality `estimated` (the day has 50 readings per channel; the day's total is kept);
 * - meter id `ausgrid:<customer>` (from the file name, e.g. customer12); GC → import, GG (gross PV
 *   generation) → export on the same meter; CL → import on `ausgrid:<customer>:cl`.
 */
export const AUSGRID_INTERVAL_MINUTES = 30;
export const AUSGRID_TIME_ZONE = 'Australia/Sydney';

export function ausgridMeterId(path: string): string {
  const m = /^(customer\d+)/i.exec(basename(path));
  return `ausgrid:${m?.[1]?.toLowerCase() ?? basename(path).replace(/\.csv$/i, '')}`;
}

interface AusgridColumn {
  index: number;
  name: string;
  meterId: string;
  channel: Channel;
}

export async function* readAusgrid(path: string): AsyncGenerator<SourceItem> {
  const file = basename(path);
  const source = `replay:ausgrid:${file}`;
  const meterId = ausgridMeterId(path);
  const zone = ianaZone(AUSGRID_TIME_ZONE);
  const hours = AUSGRID_INTERVAL_MINUTES / 60;
  let columns: AusgridColumn[] | undefined;
  for await (const record of readCsvRecords(path)) {
    if (columns === undefined) {
      columns = ausgridColumns(record.fields, meterId);
      if (columns === undefined) throw badHeader(path, ',GC,GG (optionally CL)', record.fields);
      continue;
    }
    if (record.error !== undefined) {
      yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: ${record.error}`);
      continue;
    }
    const fields = record.fields;
    const time = fields[0] ?? '';
    const wall = parseWallClock(time);
    if (wall === undefined) {
      for (const c of columns)
        yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: time "${time}" is not YYYY-MM-DD hh:mm:ss (${c.name})`);
      continue;
    }
    const instants = wallClockToUtc(wall, zone);
    for (const c of columns) {
      const cell = fields[c.index] ?? '';
      if (instants.length === 0) {
        yield rejectItem(
          file,
          record,
          'NONEXISTENT_LOCAL_TIME',
          `line ${record.line}: ${c.name} at ${time} ${AUSGRID_TIME_ZONE} is in the hour skipped by daylight saving`,
        );
        continue;
      }
      const kw = parseDecimal(cell);
      if (!kw.ok) {
        yield rejectItem(
          file,
          record,
          kw.missing ? 'NOT_FINITE' : 'MALFORMED',
          `line ${record.line}: ${c.name} average kW "${cell}" is not a number`,
        );
        continue;
      }
      // One instant normally; two in the repeated hour, sharing the energy the export summed.
      const share = instants.length;
      for (const intervalStart of instants) {
        const reading: MeterReading = {
          meterId: c.meterId,
          intervalStart,
          intervalMinutes: AUSGRID_INTERVAL_MINUTES,
          channel: c.channel,
          kind: 'interval',
          value: (kw.value * hours) / share,
          quality: share === 1 ? 'actual' : 'estimated',
          source,
          correction: false,
        };
        yield { file, line: record.line, reading, raw: record.raw };
      }
    }
  }
  if (columns === undefined) throw badHeader(path, 'an Ausgrid CSV with a header row', undefined);
}

function ausgridColumns(header: string[] | undefined, meterId: string): AusgridColumn[] | undefined {
  if (header === undefined || (header[0] ?? '').trim() !== '') return undefined;
  const columns: AusgridColumn[] = [];
  header.forEach((raw, index) => {
    const name = raw.trim().toUpperCase();
    if (name === 'GC') columns.push({ index, name, meterId, channel: 'import' });
    else if (name === 'GG') columns.push({ index, name, meterId, channel: 'export' });
    else if (name === 'CL') columns.push({ index, name, meterId: `${meterId}:cl`, channel: 'import' });
  });
  return columns.some((c) => c.name === 'GC') ? columns : undefined;
}
