import type { RejectReason } from '../../ingest/validation/reasons.ts';
import { encodeDeadLetter, encodeReading } from '../../schemas/avro/codec.ts';
import { HEADER_LENGTH, MAGIC } from '../../schemas/avro/framing.ts';
import type { Meter, MeterReading } from '../../schemas/reading.ts';

/**
 * The bad-input corpus: generated, not stored, so every case says in code why it is bad and which
 * reason code it must be dead-lettered with. One fixed clock (NOW) keeps "future" and "too old"
 * stable; the pipelines under test get `now: () => NOW`.
 */
export const NOW = Date.UTC(2026, 5, 1, 12, 0);
const HALF_HOUR = 1_800_000;
const DAY = 86_400_000;

export const INTERVAL_METER: Meter = {
  meterId: 'bad:m1',
  siteId: 'bad:s1',
  region: 'Test',
  timeZone: 'Europe/London',
  tariff: 'flat',
  ratedKw: 10,
  readingKind: 'interval',
  intervalMinutes: 30,
};
export const REGISTER_METER: Meter = { ...INTERVAL_METER, meterId: 'bad:r1', readingKind: 'register' };
export const CORPUS_METERS: readonly Meter[] = [INTERVAL_METER, REGISTER_METER];
export const meterMap = (meters: readonly Meter[] = CORPUS_METERS): Map<string, Meter> => new Map(meters.map((m) => [m.meterId, m]));

/** A good interval reading `i` half-hours before NOW − 1 day (distinct starts for distinct i). */
export function goodReading(i: number, over: Partial<MeterReading> = {}): MeterReading {
  return {
    meterId: INTERVAL_METER.meterId,
    intervalStart: NOW - DAY - i * HALF_HOUR,
    intervalMinutes: 30,
    channel: 'import',
    kind: 'interval',
    value: 0.25 + (i % 7) * 0.125,
    quality: 'actual',
    source: 'test:bad-input',
    correction: false,
    ...over,
  };
}

export interface BadReadingCase {
  name: string;
  reason: RejectReason;
  reading: MeterReading;
}

/**
 * One case (or more) per rule of ingest/validation/validate-reading.ts. REGISTER_BACKWARDS needs a
 * good register read before it: `registerPrelude` is that read, to be sent first.
 */
export const registerPrelude: MeterReading = goodReading(0, {
  meterId: REGISTER_METER.meterId,
  kind: 'register',
  value: 1000,
  intervalStart: NOW - 2 * DAY,
});

export function badReadingCases(): BadReadingCase[] {
  const g = (over: Partial<MeterReading>) => goodReading(1, over);
  const cast = (over: Record<string, unknown>) => g(over as Partial<MeterReading>);
  return [
    { name: 'meter id not a string', reason: 'MALFORMED', reading: cast({ meterId: 42 }) },
    { name: 'empty meter id', reason: 'MALFORMED', reading: g({ meterId: '' }) },
    { name: 'fractional interval start', reason: 'MALFORMED', reading: g({ intervalStart: NOW - DAY + 0.5 }) },
    { name: 'zero interval length', reason: 'MALFORMED', reading: g({ intervalMinutes: 0 }) },
    { name: 'unknown channel', reason: 'MALFORMED', reading: cast({ channel: 'sideways' }) },
    { name: 'unknown kind', reason: 'MALFORMED', reading: cast({ kind: 'guess' }) },
    { name: 'value is a string', reason: 'MALFORMED', reading: cast({ value: '0.4' }) },
    { name: 'unknown quality', reason: 'MALFORMED', reading: cast({ quality: 'great' }) },
    { name: 'NaN', reason: 'NOT_FINITE', reading: g({ value: Number.NaN }) },
    { name: '+Infinity', reason: 'NOT_FINITE', reading: g({ value: Number.POSITIVE_INFINITY }) },
    { name: '-Infinity', reason: 'NOT_FINITE', reading: g({ value: Number.NEGATIVE_INFINITY }) },
    { name: 'unknown meter', reason: 'UNKNOWN_METER', reading: g({ meterId: 'bad:nobody' }) },
    { name: 'unknown meter with injection text', reason: 'UNKNOWN_METER', reading: g({ meterId: "x'; DROP TABLE speed_partials; --" }) },
    { name: 'interval length of another meter', reason: 'INTERVAL_LENGTH_MISMATCH', reading: g({ intervalMinutes: 15 }) },
    { name: 'register read from an interval meter', reason: 'KIND_MISMATCH', reading: g({ kind: 'register' }) },
    { name: 'start 7 min off the boundary', reason: 'MISALIGNED_INTERVAL', reading: g({ intervalStart: NOW - DAY + 7 * 60_000 }) },
    { name: 'year 2100', reason: 'FUTURE_TIMESTAMP', reading: g({ intervalStart: Date.UTC(2100, 0, 1) }) },
    { name: 'one hour ahead', reason: 'FUTURE_TIMESTAMP', reading: g({ intervalStart: NOW + 3_600_000 }) },
    { name: 'year 1970 (epoch 0)', reason: 'TOO_OLD', reading: g({ intervalStart: 0 }) },
    { name: 'year 1970 (mid-year)', reason: 'TOO_OLD', reading: g({ intervalStart: Date.UTC(1970, 6, 1) }) },
    { name: 'negative kWh', reason: 'NEGATIVE_VALUE', reading: g({ value: -0.1 }) },
    { name: 'spike over the rated power', reason: 'SPIKE_OVER_RATED', reading: g({ value: 5.01 }) },
    { name: 'absurd spike', reason: 'SPIKE_OVER_RATED', reading: g({ value: Number.MAX_VALUE }) },
    {
      name: 'register going backwards',
      reason: 'REGISTER_BACKWARDS',
      reading: { ...registerPrelude, intervalStart: registerPrelude.intervalStart + HALF_HOUR, value: 999 },
    },
  ];
}

export interface BadFrameCase {
  name: string;
  /** What the speed layer must dead-letter these bytes as. */
  reason: 'MALFORMED' | 'WRONG_SCHEMA';
  bytes: Buffer;
}

/** Bytes that are not a decodable MeterReading of a known version, for the raw readings topic. */
export function badFrameCases(): BadFrameCase[] {
  const valid = encodeReading(goodReading(3));
  const body = valid.subarray(HEADER_LENGTH);
  const frame = (typeId: number, version: number, rest: Buffer) => Buffer.concat([Buffer.from([MAGIC, typeId, version]), rest]);
  const letter = encodeDeadLetter({
    reason: 'MALFORMED',
    message: 'a dead letter, not a reading',
    original: Buffer.from('x'),
    source: 'test',
    origin: null,
    time: NOW,
  });
  return [
    { name: 'empty message', reason: 'MALFORMED', bytes: Buffer.alloc(0) },
    { name: 'one byte', reason: 'MALFORMED', bytes: Buffer.from([MAGIC]) },
    { name: 'header only, no body', reason: 'MALFORMED', bytes: valid.subarray(0, HEADER_LENGTH) },
    { name: 'truncated body', reason: 'MALFORMED', bytes: valid.subarray(0, valid.length - 5) },
    { name: 'trailing bytes after the body', reason: 'MALFORMED', bytes: Buffer.concat([valid, Buffer.from([1, 2, 3])]) },
    { name: 'oversize: valid frame + 512 KiB of junk', reason: 'MALFORMED', bytes: Buffer.concat([valid, Buffer.alloc(512 * 1024, 0xab)]) },
    { name: 'random garbage (no magic)', reason: 'WRONG_SCHEMA', bytes: Buffer.from('not avro at all \u0000\u00ff garbage', 'utf8') },
    { name: 'JSON instead of Avro', reason: 'WRONG_SCHEMA', bytes: Buffer.from(JSON.stringify(goodReading(3))) },
    { name: 'unknown schema version 99', reason: 'WRONG_SCHEMA', bytes: frame(1, 99, body) },
    { name: 'schema version 0', reason: 'WRONG_SCHEMA', bytes: frame(1, 0, body) },
    { name: 'unknown message type 9', reason: 'WRONG_SCHEMA', bytes: frame(9, 1, body) },
    { name: 'a dead letter on the readings topic', reason: 'WRONG_SCHEMA', bytes: letter },
    {
      name: 'right header, garbage body',
      reason: 'MALFORMED',
      bytes: frame(1, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])),
    },
  ];
}

export interface CsvCorpus {
  /** File text for the generic CSV replay (mapping below). */
  text: string;
  /** Lines (1-based, header = 1) that must be accepted. */
  goodLines: number[];
  /** Line → reason of every line that must be dead-lettered. */
  bad: Map<number, RejectReason>;
}

/** Generic CSV mapping for the corpus: wall-clock times in Europe/London, 30-min intervals. */
export const CSV_MAPPING = {
  meter: 'meter',
  time: 'time',
  value: 'kwh',
  kind: 'kind',
  timeFormat: 'iso',
  timeZone: 'Europe/London',
  intervalMinutes: 30,
} as const;

/**
 * A CSV export full of nonsense around good rows: every reason a file can carry, including the
 * daylight-saving hours (2026-03-29 01:30 does not exist in London; 2025-10-26 01:30 happens twice).
 */
export function csvCorpus(): CsvCorpus {
  const rows: [string, RejectReason | 'ok'][] = [];
  const m = INTERVAL_METER.meterId;
  const r = REGISTER_METER.meterId;
  const iso = (ms: number) => new Date(ms).toISOString();
  const t = (i: number) => NOW - DAY - i * HALF_HOUR;
  rows.push([`${m},${iso(t(0))},0.5,interval`, 'ok']);
  rows.push([`${m},${iso(t(1))},Null,interval`, 'NOT_FINITE']);
  rows.push([`${m},${iso(t(2))},NaN,interval`, 'NOT_FINITE']);
  rows.push([`${m},${iso(t(3))},inf,interval`, 'MALFORMED']);
  rows.push([`${m},${iso(t(4))},-0.2,interval`, 'NEGATIVE_VALUE']);
  rows.push([`${m},${iso(t(5))},0.3,interval`, 'ok']);
  rows.push([`${m},1970-01-01T00:00:00Z,0.3,interval`, 'TOO_OLD']);
  rows.push([`${m},2100-01-01T00:00:00Z,0.3,interval`, 'FUTURE_TIMESTAMP']);
  rows.push([`bad:ghost,${iso(t(6))},0.3,interval`, 'UNKNOWN_METER']);
  rows.push([`${m},2026-03-29T01:30:00,0.3,interval`, 'NONEXISTENT_LOCAL_TIME']);
  rows.push([`${m},2025-10-26T01:30:00,0.3,interval`, 'AMBIGUOUS_LOCAL_TIME']);
  rows.push([`${m},yesterday,0.3,interval`, 'MALFORMED']);
  rows.push([`${m},${iso(t(7) + 60_000)},0.3,interval`, 'MISALIGNED_INTERVAL']);
  rows.push([`${m},${iso(t(8))},99,interval`, 'SPIKE_OVER_RATED']);
  rows.push([`${m},${iso(t(9))},0.3,register`, 'KIND_MISMATCH']);
  rows.push([`${m},${iso(t(10))},0.3,sideways`, 'MALFORMED']);
  rows.push([`,${iso(t(12))},0.3,interval`, 'MALFORMED']);
  rows.push([`${r},${iso(t(20))},500,register`, 'ok']);
  rows.push([`${r},${iso(t(19))},499.5,register`, 'REGISTER_BACKWARDS']);
  rows.push([`${m},${iso(t(13))},0.7,interval`, 'ok']);
  // Last: an unclosed quote swallows the rest of the file into one refused record.
  rows.push([`${m},${iso(t(11))},"0.3`, 'MALFORMED']);
  const goodLines: number[] = [];
  const bad = new Map<number, RejectReason>();
  rows.forEach(([, verdict], i) => {
    if (verdict === 'ok') goodLines.push(i + 2);
    else bad.set(i + 2, verdict);
  });
  return { text: `meter,time,kwh,kind\n${rows.map(([row]) => row).join('\n')}\n`, goodLines, bad };
}
