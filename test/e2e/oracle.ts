import { basename } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';

// The independent answer: DuckDB straight over the source CSV files, written from the data sets'
// documentation (../shared/data/README.md), not from meterflow's code. Every timestamp below is a
// naive TIMESTAMP holding UTC.

/** The measures compared, per (key, grain, bucket). */
export const MEASURES = ['importKwh', 'exportKwh', 'readingCount', 'flaggedCount'] as const;
export type Measure = (typeof MEASURES)[number];
export type Values = Record<Measure, number>;

export interface OracleInput {
  /** LCL half-hourly files (lcl-2013 layout or the raw layout), all replayed. */
  lcl: string[];
  /** lcl-2013-households.csv: LCLid → Acorn_grouped. */
  households: string;
  /** OPSD household files (cumulative registers). */
  opsd: string[];
  /** Ausgrid solar home files (average kW, Sydney wall clock). */
  ausgrid: string[];
}

export interface OracleAnswer {
  /** `view|key|grain|YYYY-MM-DD` → values (key as the API takes it, e.g. meter=lcl:MAC000002). */
  answers: Map<string, Values>;
  /** Source cells that must end in the dead-letter topic. */
  deadLetters: number;
  /** meter ids, region ids with at least one fact. */
  meters: string[];
  regions: string[];
}

const str = (s: string) => `'${s.replaceAll("'", "''")}'`;
const list = (files: string[]) => `[${files.map(str).join(', ')}]`;
const THREE = `header = false, skip = 1, all_varchar = true, columns = {'a': 'VARCHAR', 'b': 'VARCHAR', 'c': 'VARCHAR'}`;

/** (meter, channel, ts, kwh) per source; kwh NULL = a flagged interval (register went backwards). */
function lclFacts(files: string[]): { facts: string; dead: string } {
  const raw = `SELECT 'lcl:' || trim(a) AS meter, CAST(trim(b) AS TIMESTAMP) AS ts, TRY_CAST(trim(c) AS DOUBLE) AS kwh
    FROM read_csv(${list(files)}, ${THREE})`;
  // A half hour starts on :00 or :30; "Null" is no value. Duplicated rows count once (they agree:
  // checked below by the distinct-value count).
  const ok = `kwh IS NOT NULL AND second(ts) = 0 AND minute(ts) IN (0, 30)`;
  return {
    facts: `SELECT meter, 'import' AS channel, ts, min(kwh) AS kwh, count(DISTINCT kwh) AS variants FROM (${raw}) WHERE ${ok} GROUP BY meter, ts`,
    dead: `SELECT count(*) AS n FROM (${raw}) WHERE NOT (${ok})`,
  };
}

function opsdFacts(files: string[]): string {
  const cells = files.map(
    (f) => `SELECT utc_timestamp, col, v FROM (UNPIVOT (SELECT utc_timestamp, COLUMNS('^DE_KN_[a-z]+[0-9]+_(grid_import|grid_export|pv)$')
      FROM read_csv(${str(f)}, header = true, all_varchar = true)) ON COLUMNS(* EXCLUDE (utc_timestamp)) INTO NAME col VALUE v)`,
  );
  // grid_import/grid_export: the household meter's import/export; pv: its own generation meter.
  return `WITH cells AS (${cells.join(' UNION ALL ')}),
    reads AS (
      SELECT 'opsd:' || regexp_extract(col, '^DE_KN_([a-z]+)([0-9]+)_', 1) || '_' || regexp_extract(col, '^DE_KN_([a-z]+)([0-9]+)_', 2)
               || CASE WHEN col LIKE '%\\_pv' ESCAPE '\\' THEN ':pv' ELSE '' END AS meter,
             CASE WHEN col LIKE '%grid\\_import' ESCAPE '\\' THEN 'import' ELSE 'export' END AS channel,
             CAST(replace(replace(utc_timestamp, 'T', ' '), 'Z', '') AS TIMESTAMP) AS ts,
             TRY_CAST(trim(v) AS DOUBLE) AS reg
      FROM cells WHERE trim(v) <> ''),
    deltas AS (SELECT meter, channel, ts, reg - lag(reg) OVER (PARTITION BY meter, channel ORDER BY ts) AS d FROM reads)
    -- register → interval: the difference to the previous read; the first read is the baseline.
    SELECT meter, channel, ts, CASE WHEN d >= 0 THEN d END AS kwh, 1 AS variants FROM deltas WHERE d IS NOT NULL`;
}

function ausgridFacts(files: string[]): { facts: string; dead: string } {
  const parts = files.map((f) => {
    const meter = `ausgrid:${(/^(customer\d+)/i.exec(basename(f))?.[1] ?? basename(f)).toLowerCase()}`;
    return `SELECT ${str(meter)} AS meter, CAST(trim(a) AS TIMESTAMP) AS wall, TRY_CAST(trim(b) AS DOUBLE) AS gc, TRY_CAST(trim(c) AS DOUBLE) AS gg
      FROM read_csv(${str(f)}, ${THREE})`;
  });
  const rows = parts.join(' UNION ALL ');
  // The UTC instants whose Sydney wall clock is the row's time (AEST +10 or AEDT +11): none in the
  // hour skipped in October, two in the hour repeated in April, which then share the row's energy.
  const instants = `SELECT meter, wall, gc, gg, wall - to_hours(h) AS ts, count(*) OVER (PARTITION BY meter, wall) AS n
    FROM (${rows}) CROSS JOIN (VALUES (10), (11)) AS o(h)
    WHERE timezone('Australia/Sydney', timezone('UTC', wall - to_hours(h))) = wall`;
  return {
    facts: `SELECT meter, 'import' AS channel, ts, gc * 0.5 / n AS kwh, 1 AS variants FROM (${instants})
      UNION ALL SELECT meter, 'export', ts, gg * 0.5 / n, 1 FROM (${instants})`,
    // Both cells (GC, GG) of a row in the skipped hour are dead-lettered.
    dead: `SELECT 2 * count(*) AS n FROM (${rows}) r WHERE NOT EXISTS (SELECT 1 FROM (${instants}) i WHERE i.meter = r.meter AND i.wall = r.wall)`,
  };
}

const AGG = `coalesce(sum(kwh) FILTER (WHERE channel = 'import'), 0) AS importKwh,
  coalesce(sum(kwh) FILTER (WHERE channel = 'export'), 0) AS exportKwh,
  count(kwh) AS readingCount, count(*) - count(kwh) AS flaggedCount`;

export async function oracle(con: DuckDBConnection, input: OracleInput): Promise<OracleAnswer> {
  const facts: string[] = [];
  const dead: string[] = [];
  if (input.lcl.length > 0) {
    const l = lclFacts(input.lcl);
    facts.push(l.facts);
    dead.push(l.dead);
  }
  if (input.opsd.length > 0) facts.push(opsdFacts(input.opsd));
  if (input.ausgrid.length > 0) {
    const a = ausgridFacts(input.ausgrid);
    facts.push(a.facts);
    dead.push(a.dead);
  }
  await con.run(`CREATE OR REPLACE TEMP TABLE facts AS ${facts.map((f) => `(${f})`).join(' UNION ALL ')}`);
  const conflicts = await con.runAndReadAll('SELECT count(*) AS n FROM facts WHERE variants > 1');
  if (Number(conflicts.getRowObjects()[0]?.n) > 0)
    throw new Error('the oracle met a duplicated reading with two values: no rule to pick one');
  await con.run(`CREATE OR REPLACE TEMP TABLE regions AS
    SELECT 'lcl:' || trim(LCLid) AS meter,
      'London/' || CASE WHEN coalesce(trim(Acorn_grouped), '') = '' OR trim(Acorn_grouped) LIKE 'ACORN-%' THEN 'Unclassified' ELSE trim(Acorn_grouped) END AS region
    FROM read_csv(${str(input.households)}, header = true, all_varchar = true)`);
  const reader = await con.runAndReadAll(`
    SELECT 'meter_15m' AS view, 'meter=' || meter AS key, 'day' AS grain, strftime(ts, '%Y-%m-%d') AS bucket, ${AGG} FROM facts GROUP BY ALL
    UNION ALL SELECT 'meter_15m', 'meter=' || meter, 'month', strftime(ts, '%Y-%m-01'), ${AGG} FROM facts GROUP BY ALL
    UNION ALL SELECT 'region_hourly', 'region=' || region, 'month', strftime(ts, '%Y-%m-01'), ${AGG} FROM facts JOIN regions USING (meter) GROUP BY ALL`);
  const answers = new Map<string, Values>();
  const meters = new Set<string>();
  const regions = new Set<string>();
  for (const r of reader.getRowObjects()) {
    const key = String(r.key);
    if (r.view === 'meter_15m') meters.add(key.slice('meter='.length));
    else regions.add(key.slice('region='.length));
    answers.set(`${r.view}|${key}|${r.grain}|${r.bucket}`, {
      importKwh: Number(r.importKwh),
      exportKwh: Number(r.exportKwh),
      readingCount: Number(r.readingCount),
      flaggedCount: Number(r.flaggedCount),
    });
  }
  let deadLetters = 0;
  for (const d of dead) deadLetters += Number((await con.runAndReadAll(d)).getRowObjects()[0]?.n);
  return { answers, deadLetters, meters: [...meters].sort(), regions: [...regions].sort() };
}
