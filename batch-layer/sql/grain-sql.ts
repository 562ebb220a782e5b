import type { GrainId } from '../../schemas/views/index.ts';

/**
 * grains.ts in DuckDB: bucket ids and bucket lengths. `startMs` is a BIGINT UTC epoch-ms
 * expression, `localStart` the naive local TIMESTAMP of the same instant in the site zone. Local buckets are labelled by the local date's midnight read as UTC (the same
 * wall-clock label grains.ts uses); their length is measured between the zone's real midnights.
 */
export interface GrainSqlInputs {
  startMs: string;
  localStart: string;
  /** Minutes of the local day / month holding the instant (computed once per zone and instant). */
  localDayMinutes: string;
  localMonthMinutes: string;
}

export function bucketSql(grain: GrainId, x: GrainSqlInputs): string {
  switch (grain) {
    case '15m':
      return `((${x.startMs}) // 900000) * 900000`;
    case 'hour':
      return `((${x.startMs}) // 3600000) * 3600000`;
    case 'day':
      return `((${x.startMs}) // 86400000) * 86400000`;
    case 'month':
      return `epoch_ms(date_trunc('month', epoch_ms(${x.startMs})))`;
    case 'local-day':
      return `epoch_ms(date_trunc('day', ${x.localStart}))`;
    case 'local-month':
      return `epoch_ms(date_trunc('month', ${x.localStart}))`;
  }
}

export function bucketMinutesSql(grain: GrainId, x: GrainSqlInputs): string {
  switch (grain) {
    case '15m':
      return '15';
    case 'hour':
      return '60';
    case 'day':
      return '1440';
    case 'month': {
      const start = `date_trunc('month', epoch_ms(${x.startMs}))`;
      return `((epoch_ms(${start} + INTERVAL 1 MONTH) - epoch_ms(${start})) / 60000)`;
    }
    case 'local-day':
      return x.localDayMinutes;
    case 'local-month':
      return x.localMonthMinutes;
  }
}

/** Minutes between a local midnight and the next step (1380/1440/1500 for a day) in a zone. */
export function localSpanMinutesSql(localMidnight: string, step: string, zone: string): string {
  return `((epoch_ms(timezone(${zone}, ${localMidnight} + ${step})) - epoch_ms(timezone(${zone}, ${localMidnight}))) / 60000)`;
}
