import { basename } from 'node:path';
import { MeterflowError } from '../../core/errors.ts';
import type { Channel, MeterReading, ReadingKind } from '../../schemas/reading.ts';
import { readCsvRecords } from './csv-records.ts';
import { ianaZone, parseWallClock, wallClockToUtc } from './local-time.ts';
import { parseDecimal } from './numbers.ts';
import { badHeader, rejectItem } from './source-helpers.ts';
import type { SourceItem } from './types.ts';

/** Which header columns hold what, for a CSV of one reading per row. */
export interface CsvColumnMapping {
  meter: string;
  time: string;
  value: string;
  /** Column with import/export; without it every row is `defaultChannel`. */
  channel?: string;
  /** Column with interval/register; without it every row is `defaultKind`. */
  kind?: string;
  /**
   * iso: ISO-8601; with an offset or Z it is exact, without one it is wall clock in `timeZone`.
   * epoch-ms / epoch-s: UTC epoch numbers. The time is the START of the interval.
   */
  timeFormat: 'iso' | 'epoch-ms' | 'epoch-s';
  /** IANA zone for ISO times without an offset; default UTC. */
  timeZone?: string;
  intervalMinutes: number;
  defaultChannel?: Channel;
  defaultKind?: ReadingKind;
  /** Prepended to the meter column, to keep data sets apart (e.g. "acme:"). */
  meterPrefix?: string;
  /** Multiplies the value, e.g. 0.25 to turn average kW over 15 min into kWh. */
  valueScale?: number;
  /** Reading source; default "replay:csv:<file name>". */
  source?: string;
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export async function* readCsv(path: string, mapping: CsvColumnMapping): AsyncGenerator<SourceItem> {
  const file = basename(path);
  const source = mapping.source ?? `replay:csv:${file}`;
  const zone = ianaZone(mapping.timeZone ?? 'UTC');
  const scale = mapping.valueScale ?? 1;
  let index: Record<'meter' | 'time' | 'value' | 'channel' | 'kind', number> | undefined;
  for await (const record of readCsvRecords(path)) {
    if (index === undefined) {
      index = columnIndexes(path, record.fields, mapping);
      continue;
    }
    if (record.error !== undefined) {
      yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: ${record.error}`);
      continue;
    }
    const f = record.fields;
    const meter = (f[index.meter] ?? '').trim();
    if (meter === '') {
      yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: column ${mapping.meter} is empty`);
      continue;
    }
    const time = (f[index.time] ?? '').trim();
    const start = parseTime(time, mapping.timeFormat, zone);
    if (typeof start === 'string') {
      yield rejectItem(
        file,
        record,
        start === 'nonexistent' ? 'NONEXISTENT_LOCAL_TIME' : start === 'ambiguous' ? 'AMBIGUOUS_LOCAL_TIME' : 'MALFORMED',
        `line ${record.line}: ${mapping.time} "${time}" is ${timeProblem(start, mapping)}`,
      );
      continue;
    }
    const channel = pick(f[index.channel], ['import', 'export'] as const, mapping.defaultChannel ?? 'import');
    const kind = pick(f[index.kind], ['interval', 'register'] as const, mapping.defaultKind ?? 'interval');
    if (channel === undefined || kind === undefined) {
      const which =
        channel === undefined
          ? `${mapping.channel} "${f[index.channel]}" is not import/export`
          : `${mapping.kind} "${f[index.kind]}" is not interval/register`;
      yield rejectItem(file, record, 'MALFORMED', `line ${record.line}: ${which}`);
      continue;
    }
    const cell = f[index.value] ?? '';
    const value = parseDecimal(cell);
    if (!value.ok) {
      yield rejectItem(
        file,
        record,
        value.missing ? 'NOT_FINITE' : 'MALFORMED',
        `line ${record.line}: ${mapping.value} "${cell.trim()}" is not a number`,
      );
      continue;
    }
    const reading: MeterReading = {
      meterId: `${mapping.meterPrefix ?? ''}${meter}`,
      intervalStart: start,
      intervalMinutes: mapping.intervalMinutes,
      channel,
      kind,
      value: value.value * scale,
      quality: 'actual',
      source,
      correction: false,
    };
    yield { file, line: record.line, reading, raw: record.raw };
  }
  if (index === undefined) throw badHeader(path, 'a CSV with a header row', undefined);
}

function columnIndexes(path: string, header: string[] | undefined, m: CsvColumnMapping) {
  const names = (header ?? []).map((h) => h.trim());
  const find = (name: string | undefined): number => (name === undefined ? -1 : names.indexOf(name));
  const index = { meter: find(m.meter), time: find(m.time), value: find(m.value), channel: find(m.channel), kind: find(m.kind) };
  const missing = (['meter', 'time', 'value', 'channel', 'kind'] as const)
    .filter((k) => m[k] !== undefined && index[k] < 0)
    .map((k) => m[k]);
  if (missing.length > 0) throw badHeader(path, `a header with column(s) ${missing.join(', ')}`, header);
  if (!Number.isInteger(m.intervalMinutes) || m.intervalMinutes <= 0) {
    throw new MeterflowError('MF_CONFIG_INVALID', `intervalMinutes ${m.intervalMinutes} must be a positive integer`);
  }
  return index;
}

type TimeProblem = 'unparsable' | 'nonexistent' | 'ambiguous';

function parseTime(text: string, format: CsvColumnMapping['timeFormat'], zone: ReturnType<typeof ianaZone>): number | TimeProblem {
  if (format !== 'iso') {
    const n = parseDecimal(text);
    if (!n.ok || !Number.isInteger(n.value)) return 'unparsable';
    return format === 'epoch-s' ? n.value * 1000 : n.value;
  }
  if (ISO_WITH_ZONE.test(text)) {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? 'unparsable' : ms;
  }
  const wall = parseWallClock(text);
  if (wall === undefined) return 'unparsable';
  const instants = wallClockToUtc(wall, zone);
  if (instants.length === 0) return 'nonexistent';
  // Two possible instants and nothing in the row to choose: refuse rather than guess.
  if (instants.length > 1) return 'ambiguous';
  return instants[0] as number;
}

function timeProblem(problem: TimeProblem, m: CsvColumnMapping): string {
  if (problem === 'nonexistent') return `in the hour skipped by daylight saving in ${m.timeZone}`;
  if (problem === 'ambiguous') return `in the hour repeated by daylight saving in ${m.timeZone}`;
  return m.timeFormat === 'iso' ? 'not an ISO-8601 time' : `not an integer ${m.timeFormat}`;
}

function pick<T extends string>(cell: string | undefined, allowed: readonly T[], fallback: T): T | undefined {
  if (cell === undefined) return fallback;
  const v = cell.trim().toLowerCase();
  return (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}
