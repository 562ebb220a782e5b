import { quoteQualified } from './sql-text.ts';

/**
 * Where the compiled SQL reads from. Either a table/view in the DuckDB database, or Parquet files
 * whose list is bound as a parameter (never spliced into the SQL text).
 *
 * The readings relation has the columns of MeterReading in snake_case plus the log position:
 *   meter_id VARCHAR, interval_start BIGINT (UTC epoch ms; or TIMESTAMPTZ, see intervalStartType),
 *   interval_minutes INTEGER, channel VARCHAR, kind VARCHAR, value DOUBLE, quality VARCHAR,
 *   source VARCHAR, correction BOOLEAN, kafka_partition INTEGER, kafka_offset BIGINT.
 * The meters relation has the columns of Meter in snake_case:
 *   meter_id, site_id, region, time_zone, tariff, rated_kw, reading_kind, interval_minutes.
 */
export type SqlRelation = { kind: 'table'; name: string } | { kind: 'parquet'; files: readonly string[] };

export interface RelationRef {
  sql: string;
  params: Record<string, readonly string[]>;
}

export function renderRelation(relation: SqlRelation, paramName: string): RelationRef {
  if (relation.kind === 'table') return { sql: quoteQualified(relation.name), params: {} };
  return { sql: `read_parquet($${paramName})`, params: { [paramName]: relation.files } };
}
