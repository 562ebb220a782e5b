import {
  type AnyMonoidMeasure,
  assertServesGrain,
  DIMENSION_COLUMN,
  type GrainId,
  ROW_KEY_SQL_ESCAPES,
  type ViewDefinition,
} from '../../schemas/views/index.ts';
import { bucketMinutesSql, bucketSql, type GrainSqlInputs, localDayMinutesSql } from './grain-sql.ts';
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

export function compileViewQuery(view: ViewDefinition, grain: GrainId, options: CompileOptions): CompiledQuery {
  assertServesGrain(view, grain);
  const readings = renderRelation(options.readings, 'readings_files');
  const meters = renderRelation(options.meters, 'meters_files');
  const startMs = options.intervalStartType === 'timestamptz' ? 'epoch_ms(interval_start)' : 'interval_start';
  const g: GrainSqlInputs = { startMs: 'l.interval_start_ms', localStart: 'l.local_start', zone: 'l.time_zone' };

  const dimensionSelect = view.dimensions
    .map((d) => {
      const column = DIMENSION_COLUMN[d];
      return `${column === undefined ? sqlString('all') : `m.${quoteIdent(column)}`} AS ${quoteIdent(d)}`;
    })
    .join(', ');
  const dimensionList = view.dimensions.map(quoteIdent).join(', ');
  const rowKey = view.dimensions.map((d) => `${sqlString(`${d}=`)} || ${escapeKeySql(quoteIdent(d))}`).join(` || '|' || `);

  const aggregates = view.monoidMeasures.map((m) => `    ${m.sql.aggregate} AS ${quoteIdent(stateColumnName(m))}`).join(',\n');
  const sql = `-- view ${view.name}, grain ${grain} (generated from schemas/views; do not edit)
WITH
${tariffCtes()},
ranked AS (
  SELECT meter_id, channel, ${startMs} AS interval_start_ms, interval_minutes, kind, value,
    row_number() OVER (
      PARTITION BY meter_id, channel, ${startMs}
      ORDER BY correction DESC,
        CASE WHEN correction THEN kafka_partition END DESC NULLS LAST,
        CASE WHEN correction THEN kafka_offset END DESC NULLS LAST,
        kafka_partition ASC, kafka_offset ASC
    ) AS copy_rank
  FROM ${readings.sql}
),
winners AS (
  SELECT * EXCLUDE (copy_rank) FROM ranked WHERE copy_rank = 1
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
located AS (
  SELECT f.*, ${dimensionSelect},
    m.time_zone, m.interval_minutes AS registry_interval_minutes,
    ${effectiveTariffSql('m.tariff')} AS tariff_id,
    timezone(m.time_zone, timezone('UTC', epoch_ms(f.interval_start_ms))) AS local_start
  FROM raw_facts f
  JOIN ${meters.sql} m ON m.meter_id = f.meter_id
),
facts AS (
  SELECT l.*,
    ${bucketSql(grain, g)} AS bucket,
    p.cents_per_kwh,
    s.standing_cents_per_day * l.interval_minutes / ${localDayMinutesSql(g)} AS standing_share_cents,
    l.meter_id || '/' || l.channel AS expected_member,
    ${bucketMinutesSql(grain, g)} / l.registry_interval_minutes AS expected_n
  FROM located l
  JOIN tariff_prices p ON p.tariff_id = l.tariff_id AND p.weekend = (isodow(l.local_start) >= 6) AND p.local_hour = hour(l.local_start)
  JOIN tariff_standing s ON s.tariff_id = l.tariff_id
),
partials AS (
  SELECT ${rowKey} AS row_key, ${dimensionList}, bucket,
${aggregates}
  FROM facts
  GROUP BY ${dimensionList}, bucket
),
${finalizeSql(view)}`;
  return { sql, params: { ...readings.params, ...meters.params } };
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
