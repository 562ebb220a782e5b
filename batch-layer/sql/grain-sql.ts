import type { GrainId } from '../../schemas/views/index.ts';

/**
 * grains.ts in DuckDB: bucket ids and bucket lengths. `startMs` is a BIGINT UTC epoch-ms
 * expression, `localStart` the naive local TIMESTAMP of the same instant in the site zone, `zone`
 * the zone column. Local buckets are labelled by the local date's midnight read as UTC (the same
 * wall-clock label grains.ts uses); their length is measured between the zone's real midnights.
 */
export interface GrainSqlInputs {
  startMs: string;
  localStart: string;
  zone: string;
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
      return localSpanMinutesSql(`date_trunc('day', ${x.localStart})`, 'INTERVAL 1 DAY', x.zone);
    case 'local-month':
      return localSpanMinutesSql(`date_trunc('month', ${x.localStart})`, 'INTERVAL 1 MONTH', x.zone);
  }
}

/** Minutes of the local day holding the instant (1380/1440/1500), for the standing-charge share. */
export function localDayMinutesSql(x: GrainSqlInputs): string {
  return localSpanMinutesSql(`date_trunc('day', ${x.localStart})`, 'INTERVAL 1 DAY', x.zone);
}

function localSpanMinutesSql(localMidnight: string, step: string, zone: string): string {
  return `((epoch_ms(timezone(${zone}, ${localMidnight} + ${step})) - epoch_ms(timezone(${zone}, ${localMidnight}))) / 60000)`;
}
