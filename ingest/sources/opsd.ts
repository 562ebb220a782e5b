import { basename } from 'node:path';
import type { Channel, MeterReading } from '../../schemas/reading.ts';
import { readCsvRecords } from './csv-records.ts';
import { parseDecimal } from './numbers.ts';
import { badHeader, rejectItem } from './source-helpers.ts';
import type { SourceItem } from './types.ts';

/**
 * Open Power System Data "household data" (CoSSMic, Konstanz), 60-min files:
 *   utc_timestamp,DE_KN_residential1_dishwasher,...,DE_KN_residential1_grid_import,...,DE_KN_residential1_pv,...
 *
 * Decisions:
 * - values are CUMULATIVE register reads in kWh (every grid/pv column is non-decreasing in all six files);
 * - `utc_timestamp` T names the hour [T, T+1h) (OPSD documents it as the start of the period) and the
 *   value is the register at that hour's END — the first row of each channel is already above zero,
 *   so it has counted an hour. Hence intervalStart = T, kind register, 60 min, which is exactly
 *   MeterReading's "register value at the interval's end";
 * - household meter `opsd:residential_N`: grid_import → channel import, grid_export → channel export;
 * - pv → its own generation meter `opsd:residential_N:pv`, channel export. PV output is not grid
 *   export (the house uses part of it first), so on the household meter it would double count;
 * - `pv.1` (residential_4 repeats pv) is ignored, as are appliance sub-meters (not grid meters);
 * - an empty cell is "no read this hour" (channels start and stop at different times): skipped, not a reading.
 */
export const OPSD_INTERVAL_MINUTES = 60;

interface ChannelColumn {
  index: number;
  meterId: string;
  channel: Channel;
  name: string;
}

const COLUMN = /^DE_KN_(residential|industrial|public)(\d+)_(.+)$/;

/** Which columns of an OPSD header are meter channels, and whose. */
export function opsdChannelColumns(header: string[]): ChannelColumn[] {
  const columns: ChannelColumn[] = [];
  header.forEach((name, index) => {
    const m = COLUMN.exec(name.trim());
    if (m === null) return;
    const household = `opsd:${m[1]}_${m[2]}`;
    const channel = m[3];
    if (channel === 'grid_import') columns.push({ index, meterId: household, channel: 'import', name });
    else if (channel === 'grid_export') columns.push({ index, meterId: household, channel: 'export', name });
    else if (channel === 'pv') columns.push({ index, meterId: `${household}:pv`, channel: 'export', name });
  });
  return columns;
}

export async function* readOpsd(path: string): AsyncGenerator<SourceItem> {
  const file = basename(path);
  const source = `replay:opsd:${file}`;
  let columns: ChannelColumn[] | undefined;
  for await (const record of readCsvRecords(path)) {
    if (columns === undefined) {
      if (record.fields?.[0]?.trim() !== 'utc_timestamp')
        throw badHeader(path, 'utc_timestamp,DE_KN_<household>_<channel>,...', record.fields);
      columns = opsdChannelColumns(record.fields);
      continue;
    }
    if (record.error !== undefined) {
      yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: ${record.error}`);
      continue;
    }
    const fields = record.fields;
    const present = columns.filter((c) => (fields[c.index] ?? '').trim() !== '');
    if (present.length === 0) continue; // no channel read this hour
    const time = fields[0] ?? '';
    const start = parseUtcTimestamp(time);
    if (start === undefined) {
      for (const c of present)
        yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: utc_timestamp "${time}" is not YYYY-MM-DDThh:mm:ssZ (${c.name})`);
      continue;
    }
    for (const c of present) {
      const cell = fields[c.index] ?? '';
      const value = parseDecimal(cell);
      if (!value.ok) {
        yield rejectItem(
          file,
          record,
          value.missing ? 'NOT_FINITE' : 'MALFORMED',
          `line ${record.line}: ${c.name} register "${cell}" is not a number`,
        );
        continue;
      }
      const reading: MeterReading = {
        meterId: c.meterId,
        intervalStart: start,
        intervalMinutes: OPSD_INTERVAL_MINUTES,
        channel: c.channel,
        kind: 'register',
        value: value.value,
        quality: 'actual',
        source,
        correction: false,
      };
      yield { file, line: record.line, reading, raw: record.raw };
    }
  }
  if (columns === undefined) throw badHeader(path, 'an OPSD CSV with a header row', undefined);
}

const UTC_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function parseUtcTimestamp(text: string): number | undefined {
  const t = text.trim();
  if (!UTC_TIMESTAMP.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}
