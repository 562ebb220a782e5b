import { basename } from 'node:path';
import type { MeterReading } from '../../schemas/reading.ts';
import { readCsvRecords } from './csv-records.ts';
import { parseWallClock } from './local-time.ts';
import { parseDecimal } from './numbers.ts';
import { badHeader, rejectItem } from './source-helpers.ts';
import type { SourceItem } from './types.ts';

/**
 * UK Power Networks "Low Carbon London" half-hourly files, both layouts:
 *   lcl-2013/*.csv     LCLid,tstp,energy(kWh/hh)                 2013-01-01 00:00:00, " 0.219 "
 *   lcl-raw/*.csv      LCLid,DateTime,KWH/hh (per half hour)     2012-10-12 00:30:00.0000000
 *
 * Decisions (from the data):
 * - times are GMT/UTC all year (no DST shift), and label the START of the half hour: the 2013 files
 *   run 00:00 .. 23:30 of each day, i.e. exactly 2013-01-01T00:00Z .. 2013-12-31T24:00Z;
 * - meter id is `lcl:<LCLid>`, the same id for both layouts (the raw file overlaps the 2013 file;
 *   duplicates are resolved downstream by the (meter, channel, interval start) key);
 * - every reading is an import interval of 30 min, quality actual;
 * - "Null" (or any missing-value word) is rejected as NOT_FINITE, other unparsable text as MALFORMED;
 * - off-grid times (the raw file's 12:37:27) and duplicated timestamps come through as readings:
 *   validation rejects the first (MISALIGNED_INTERVAL), the views dedupe the second.
 */
export const LCL_INTERVAL_MINUTES = 30;

export function lclMeterId(lclId: string): string {
  return `lcl:${lclId}`;
}

export async function* readLcl(path: string, opts: { sourcePrefix?: string } = {}): AsyncGenerator<SourceItem> {
  const file = basename(path);
  const source = `${opts.sourcePrefix ?? 'replay:lcl'}:${file}`;
  let header = true;
  for await (const record of readCsvRecords(path)) {
    if (header) {
      header = false;
      if (!isLclHeader(record.fields)) throw badHeader(path, 'LCLid,tstp|DateTime,energy(kWh/hh)|KWH/hh', record.fields);
      continue;
    }
    if (record.error !== undefined) {
      yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: ${record.error}`);
      continue;
    }
    const [id, time, energy] = record.fields;
    if (record.fields.length !== 3 || id === undefined || time === undefined || energy === undefined || id.trim() === '') {
      yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: expected 3 fields LCLid,time,kWh, got ${record.fields.length}`);
      continue;
    }
    const start = parseWallClock(time);
    if (start === undefined) {
      yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: time "${time}" is not YYYY-MM-DD hh:mm:ss`);
      continue;
    }
    const value = parseDecimal(energy);
    if (!value.ok) {
      yield rejectItem(
        file,
        record,
        value.missing ? 'NOT_FINITE' : 'MALFORMED',
        `line ${record.line}: kWh value "${energy.trim()}" at ${time.trim()} is ${value.missing ? 'missing' : 'not a number'}`,
      );
      continue;
    }
    const reading: MeterReading = {
      meterId: lclMeterId(id.trim()),
      intervalStart: start, // UTC: the wall clock is GMT all year
      intervalMinutes: LCL_INTERVAL_MINUTES,
      channel: 'import',
      kind: 'interval',
      value: value.value,
      quality: 'actual',
      source,
      correction: false,
    };
    yield { file, line: record.line, reading, raw: record.raw };
  }
  if (header) throw badHeader(path, 'an LCL CSV with a header row', undefined);
}

function isLclHeader(fields: string[] | undefined): boolean {
  if (fields === undefined || fields.length !== 3) return false;
  const [id, time, energy] = fields.map((f) => f.trim().toLowerCase());
  return (
    id === 'lclid' &&
    (time === 'tstp' || time === 'datetime') &&
    (energy?.startsWith('energy(kwh/hh)') === true || energy?.startsWith('kwh/hh') === true)
  );
}
