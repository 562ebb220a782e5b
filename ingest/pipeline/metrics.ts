import { Counter, Histogram } from 'prom-client';

/** Ingest's Prometheus metrics, on prom-client's default registry (served by /metrics). */
export const ingestMetrics = {
  readings: new Counter({
    name: 'meterflow_ingest_readings_total',
    help: 'Inputs whose destination the broker acknowledged, by outcome (accepted, dead-lettered) and reason',
    labelNames: ['outcome', 'reason'] as const,
  }),
  produceSeconds: new Histogram({
    name: 'meterflow_ingest_produce_seconds',
    help: 'Time from sending a produce batch to its acknowledgement',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  }),
};
