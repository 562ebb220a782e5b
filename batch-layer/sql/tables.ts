import type { DuckDBConnection } from '@duckdb/node-api';
import type { Meter } from '../../schemas/reading.ts';
import type { LoggedReading } from '../../schemas/views/index.ts';
import { quoteQualified } from './sql-text.ts';

/**
 * Typed DuckDB tables in the shape the compiled views read (relations.ts), filled through the
 * appender (values are never spliced into SQL). Used by tests, replays and the bench.
 */
export const READINGS_TABLE_DDL = `(
  meter_id VARCHAR NOT NULL, interval_start BIGINT NOT NULL, interval_minutes INTEGER NOT NULL,
  channel VARCHAR NOT NULL, kind VARCHAR NOT NULL, value DOUBLE NOT NULL, quality VARCHAR NOT NULL,
  source VARCHAR NOT NULL, correction BOOLEAN NOT NULL, kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL)`;

export const METERS_TABLE_DDL = `(
  meter_id VARCHAR PRIMARY KEY, site_id VARCHAR NOT NULL, region VARCHAR NOT NULL, time_zone VARCHAR NOT NULL,
  tariff VARCHAR NOT NULL, rated_kw DOUBLE NOT NULL, reading_kind VARCHAR NOT NULL, interval_minutes INTEGER NOT NULL)`;

export async function createReadingsTable(connection: DuckDBConnection, table: string, readings: Iterable<LoggedReading>): Promise<void> {
  await connection.run(`CREATE OR REPLACE TABLE ${quoteQualified(table)} ${READINGS_TABLE_DDL}`);
  const appender = await connection.createAppender(table);
  for (const { reading: r, partition, offset } of readings) {
    appender.appendVarchar(r.meterId);
    appender.appendBigInt(BigInt(r.intervalStart));
    appender.appendInteger(r.intervalMinutes);
    appender.appendVarchar(r.channel);
    appender.appendVarchar(r.kind);
    appender.appendDouble(r.value);
    appender.appendVarchar(r.quality);
    appender.appendVarchar(r.source);
    appender.appendBoolean(r.correction);
    appender.appendInteger(partition);
    appender.appendBigInt(BigInt(offset));
    appender.endRow();
  }
  appender.closeSync();
}

export async function createMetersTable(connection: DuckDBConnection, table: string, meters: Iterable<Meter>): Promise<void> {
  await connection.run(`CREATE OR REPLACE TABLE ${quoteQualified(table)} ${METERS_TABLE_DDL}`);
  const appender = await connection.createAppender(table);
  for (const m of meters) {
    appender.appendVarchar(m.meterId);
    appender.appendVarchar(m.siteId);
    appender.appendVarchar(m.region);
    appender.appendVarchar(m.timeZone);
    appender.appendVarchar(m.tariff);
    appender.appendDouble(m.ratedKw);
    appender.appendVarchar(m.readingKind);
    appender.appendInteger(m.intervalMinutes);
    appender.endRow();
  }
  appender.closeSync();
}
