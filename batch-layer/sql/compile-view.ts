import {
  type AnyMonoidMeasure,
  assertServesGrain,
  COUNTABLE_READING_SQL,
  DIMENSION_COLUMN,
  type Dimension,
  type GrainId,
  ROW_KEY_SQL_ESCAPES,
  type ViewDefinition,
} from '../../schemas/views/index.ts';
import { bucketMinutesSql, bucketSql, type GrainSqlInputs, localSpanMinutesSql } from './grain-sql.ts';
import { renderRelation, type SqlRelation } from './relations.ts';
import { quoteIdent, sqlString } from './sql-text.ts';
import { effectiveTariffSql, tariffCtes } from './tariff-relations.ts';

/**
 * Compiles one view at one grain to a DuckDB query over the master dataset. The stages mirror the
 * shared semantics step by step:
 *   ranked/winners  — dedupe per (meter, channel, interval start), reading-identity.ts's winner rule
 *   registers       — register reads → interval kWh with LAG per meter channel (interval-facts.ts)
 *   located/facts   — join the registry, local time, bucket (grains.ts), tariff price, FACT_COLUMNS
 *   partials        — each monoid measure's SQL aggregate, GROUP BY row key and bucket
 *   final select    — finalized values, then derived measures
 * Output columns: row_key, one column per dimension, bucket (BIGINT), per monoid measure its value
 * (and `<name>__state` when the state is not the value, e.g. expectedCount's member set), per
 * derived measure its value. Rows are ordered by row_key, bucket.
 */
export interface CompileOptions {
  readings: SqlRelation;
  meters: SqlRelation;
  /** How readings.interval_start is stored; MeterReading uses epoch ms. */
  intervalStartType?: 'epoch_ms' | 'timestamptz';
  /**
   * A table already holding compileFactsQuery's result for these readings and meters. A batch
   * run materializes the facts once and computes every view and grain from them; without it the
   * facts are computed inline (one self-contained query, as the tests and laws use it).
   */
  facts?: { kind: 'table'; name: string };
}

export interface CompiledQuery {
  sql: string;
  /** Named parameters to bind (Parquet file lists). */
  params: Record<string, readonly string[]>;
}

/** True when a measure's state column differs from its value column (it needs its own column). */
export function hasSeparateState(m: AnyMonoidMeasure): boolean {
  return m.sql.finalize('x') !== 'x';
}

export function stateColumnName(m: AnyMonoidMeasure): string {
  return hasSeparateState(m) ? `${m.name}__state` : m.name;
}

/** The facts' column holding a registry dimension (every dimension of every view can group them). */
function dimensionFactColumn(d: Dimension): string {
  return `dim_${d}`;
}

const REGISTRY_DIMENSIONS = (Object.entries(DIMENSION_COLUMN) as [Dimension, string | undefined][]).filter(
  (e): e is [Dimension, string] => e[1] !== undefined,
);

/**
 * The grain- and view-independent stages as CTEs ending in `facts_base`: one row per interval
 * fact with its registry dimensions, local time, tariff price and standing-charge share.
 *
 * Local time is computed once per distinct (zone, interval start), not per row: a DuckDB
 * timezone() call with a per-row zone costs microseconds (ICU), and a fleet has few zones and
 * each interval start recurs for every meter — a hash join on the small set is far cheaper.
 */
function factsCtes(options: CompileOptions): { sql: string; params: Record<string, readonly string[]> } {
  const readings = renderRelation(options.readings, 'readings_files');
  const meters = renderRelation(options.meters, 'meters_files');
  const startMs = options.intervalStartType === 'timestamptz' ? 'epoch_ms(interval_start)' : 'interval_start';
  const dims = REGISTRY_DIMENSIONS.map(([d, column]) => `m.${quoteIdent(column)} AS ${dimensionFactColumn(d)}`).join(', ');
  const sql = `${tariffCtes()},
ranked AS (
  -- The winner rule as one hash aggregate (a window sort per copy is ~20x slower): the latest
  -- correction (highest partition, then offset) wins, else the first copy (lowest partition, offset).
  SELECT meter_id, channel, ${startMs} AS interval_start_ms,
    arg_max(
      {'interval_minutes': interval_minutes, 'kind': kind, 'value': value},
      CASE WHEN correction THEN {'c': 1, 'p': kafka_partition::BIGINT, 'o': kafka_offset::BIGINT}
        ELSE {'c': 0, 'p': -kafka_partition::BIGINT, 'o': -kafka_offset::BIGINT} END
    ) AS copy
  FROM ${readings.sql}
  WHERE ${COUNTABLE_READING_SQL}
  GROUP BY meter_id, channel, ${startMs}
),
winners AS (
  SELECT meter_id, channel, interval_start_ms, copy.interval_minutes AS interval_minutes, copy.kind AS kind, copy.value AS value
  FROM ranked
),
registers AS (
  SELECT meter_id, channel, interval_start_ms, interval_minutes,
    value - lag(value) OVER w AS delta,
    lag(interval_start_ms) OVER w AS previous_start_ms,
    lag(interval_minutes) OVER w AS previous_minutes
  FROM winners
  WHERE kind = 'register'
  WINDOW w AS (PARTITION BY meter_id, channel ORDER BY interval_start_ms)
),
raw_facts AS (
  SELECT meter_id, channel, interval_start_ms, interval_minutes,
    interval_minutes::DOUBLE AS span_minutes, value::DOUBLE AS kwh
  FROM winners
  WHERE kind = 'interval'
  UNION ALL
  SELECT meter_id, channel, interval_start_ms, interval_minutes,
    ((interval_start_ms + interval_minutes * 60000) - (previous_start_ms + previous_minutes * 60000)) / 60000 AS span_minutes,
    CASE WHEN delta >= 0 THEN delta END AS kwh
  FROM registers
  WHERE previous_start_ms IS NOT NULL
),
registered AS (
  SELECT f.*, ${dims},
    m.time_zone, m.interval_minutes AS registry_interval_minutes,
    ${effectiveTariffSql('m.tariff')} AS tariff_id
  FROM raw_facts f
  JOIN ${meters.sql} m ON m.meter_id = f.meter_id
),
zone_instants AS (
  SELECT time_zone, interval_start_ms,
    timezone(time_zone, timezone('UTC', epoch_ms(interval_start_ms))) AS local_start
  FROM (SELECT DISTINCT time_zone, interval_start_ms FROM registered)
),
zone_local AS (
  SELECT *,
    isodow(local_start) >= 6 AS weekend,
    hour(local_start)::INTEGER AS local_hour,
    ${localSpanMinutesSql("date_trunc('day', local_start)", 'INTERVAL 1 DAY', 'time_zone')} AS local_day_minutes,
    ${localSpanMinutesSql("date_trunc('month', local_start)", 'INTERVAL 1 MONTH', 'time_zone')} AS local_month_minutes
  FROM zone_instants
),
zone_prices AS (
  -- Per zone, instant and tariff: small (zones × instants × tariffs), unique on its join key, so
  -- the one join with the facts cannot fan out whatever order the optimizer picks.
  SELECT z.*, p.tariff_id, p.cents_per_kwh, s.standing_cents_per_day
  FROM zone_local z
  JOIN tariff_prices p ON p.weekend = z.weekend AND p.local_hour = z.local_hour
  JOIN tariff_standing s ON s.tariff_id = p.tariff_id
),
facts_base AS (
  SELECT r.*, z.local_start, z.local_day_minutes, z.local_month_minutes,
    z.cents_per_kwh,
    z.standing_cents_per_day * r.interval_minutes / z.local_day_minutes AS standing_share_cents,
    r.meter_id || '/' || r.channel AS expected_member
  FROM registered r
  JOIN zone_prices z ON z.time_zone = r.time_zone AND z.interval_start_ms = r.interval_start_ms AND z.tariff_id = r.tariff_id
)`;
  return { sql, params: { ...readings.params, ...meters.params } };
}

/** Every interval fact with its dimensions, local time and prices: what every view and grain aggregates. */
export function compileFactsQuery(options: Omit<CompileOptions, 'facts'>): CompiledQuery {
  const facts = factsCtes(options);
  return {
    sql: `-- interval facts (generated from schemas/views; do not edit)\nWITH\n${facts.sql}\nSELECT * FROM facts_base`,
    params: facts.params,
  };
}

export function compileViewQuery(view: ViewDefinition, grain: GrainId, options: CompileOptions): CompiledQuery {
  assertServesGrain(view, grain);
  const inline = options.facts === undefined ? factsCtes(options) : undefined;
  const source = options.facts === undefined ? 'facts_base' : quoteIdent(options.facts.name);
  const g: GrainSqlInputs = {
    startMs: 'l.interval_start_ms',
    localStart: 'l.local_start',
    localDayMinutes: 'l.local_day_minutes',
    localMonthMinutes: 'l.local_month_minutes',
  };

  const dimensionSelect = view.dimensions
    .map((d) => `${DIMENSION_COLUMN[d] === undefined ? sqlString('all') : `l.${dimensionFactColumn(d)}`} AS ${quoteIdent(d)}`)
    .join(', ');
  const dimensionList = view.dimensions.map(quoteIdent).join(', ');
  const rowKey = view.dimensions.map((d) => `${sqlString(`${d}=`)} || ${escapeKeySql(quoteIdent(d))}`).join(` || '|' || `);

  const aggregates = view.monoidMeasures.map((m) => `    ${m.sql.aggregate} AS ${quoteIdent(stateColumnName(m))}`).join(',\n');
  const sql = `-- view ${view.name}, grain ${grain} (generated from schemas/views; do not edit)
WITH
${inline === undefined ? '' : `${inline.sql},\n`}facts AS (
  SELECT l.*, ${dimensionSelect},
    ${bucketSql(grain, g)} AS bucket,
    ${bucketMinutesSql(grain, g)} / l.registry_interval_minutes AS expected_n
  FROM ${source} l
),
partials AS (
  SELECT ${rowKey} AS row_key, ${dimensionList}, bucket,
${aggregates}
  FROM facts
  GROUP BY ${dimensionList}, bucket
),
${finalizeSql(view)}`;
  return { sql, params: inline?.params ?? {} };
}

/**
 * Merges partial rows (the output shape of compileViewQuery: row_key, dimensions, bucket, state
 * columns) from several sources — batch shards, or several versions' files — with each measure's
 * SQL merge form, then finalizes like compileViewQuery. `partials` is a relation with those columns.
 */
export function compileMergeQuery(view: ViewDefinition, partials: SqlRelation): CompiledQuery {
  const source = renderRelation(partials, 'partials_files');
  const dimensionList = view.dimensions.map(quoteIdent).join(', ');
  const merges = view.monoidMeasures
    .map((m) => `    ${m.sql.merge(quoteIdent(stateColumnName(m)))} AS ${quoteIdent(stateColumnName(m))}`)
    .join(',\n');
  const sql = `-- merge of view ${view.name} partials (generated from schemas/views; do not edit)
WITH
partials AS (
  SELECT row_key, ${dimensionList}, bucket,
${merges}
  FROM ${source.sql}
  GROUP BY row_key, ${dimensionList}, bucket
),
${finalizeSql(view)}`;
  return { sql, params: source.params };
}

/** The common tail: states → values (monoid finalize forms), then derived measures, ordered. */
function finalizeSql(view: ViewDefinition): string {
  const dimensionList = view.dimensions.map(quoteIdent).join(', ');
  const finalized = view.monoidMeasures
    .flatMap((m) => {
      const state = quoteIdent(stateColumnName(m));
      return hasSeparateState(m) ? [`${state}`, `${m.sql.finalize(state)} AS ${quoteIdent(m.name)}`] : [state];
    })
    .join(',\n    ');
  const derived = view.derivedMeasures.map((d) => `,\n  (${d.sql(quoteIdent)})::DOUBLE AS ${quoteIdent(d.name)}`).join('');
  return `finalized AS (
  SELECT row_key, ${dimensionList}, bucket,
    ${finalized}
  FROM partials
)
SELECT *${derived}
FROM finalized
ORDER BY row_key, bucket`;
}

/** row-key.ts's escaping as nested replace() calls, in the same order. */
function escapeKeySql(expr: string): string {
  return ROW_KEY_SQL_ESCAPES.reduce((acc, [from, to]) => `replace(${acc}, ${sqlString(from)}, ${sqlString(to)})`, expr);
}
