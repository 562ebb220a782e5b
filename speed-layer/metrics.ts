import { Counter, Gauge, Histogram } from 'prom-client';

/** The speed layer's Prometheus metrics (prom-client default registry). */
export const speedMetrics = {
  readings: new Counter({
    name: 'meterflow_speed_readings_total',
    help: 'Readings folded, by partition',
    labelNames: ['partition'] as const,
  }),
  deadLetters: new Counter({
    name: 'meterflow_speed_dead_letters_total',
    help: 'Records the speed layer could not fold, by reason',
    labelNames: ['reason'] as const,
  }),
  lag: new Gauge({
    name: 'meterflow_speed_lag_messages',
    help: 'High watermark minus next offset to fold, by partition',
    labelNames: ['partition'] as const,
  }),
  flushSeconds: new Histogram({
    name: 'meterflow_speed_flush_seconds',
    help: 'Duration of a flush (checkpoint, rows, view changes)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  flushedRows: new Counter({ name: 'meterflow_speed_flushed_rows_total', help: 'Partial rows written to Cassandra' }),
  flushFailures: new Counter({ name: 'meterflow_speed_flush_failures_total', help: 'Flush attempts that failed and were retried' }),
  partials: new Gauge({
    name: 'meterflow_speed_partials',
    help: 'Dirty partials waiting for the next flush, by partition',
    labelNames: ['partition'] as const,
  }),
};
