import { bucketMinutes, type GrainId, localDayMinutes } from './grains.ts';
import type { IntervalFact } from './interval-facts.ts';
import { type Monoid, maxMonoid, minMonoid, sumMonoid, type WeightedSet, weightedSetMonoid, weightedSetTotal } from './monoids.ts';
import { centsPerKwhAt, effectiveTariff } from './tariffs.ts';

/**
 * The measure library. A monoid measure says, once, how one interval fact lifts into a partial
 * state (speed fold, reference evaluator), how states merge (`plus`; serving layer), and the same
 * three things in DuckDB SQL (batch layer). Derived measures are computed from finalized monoid
 * values at read time and are never stored.
 *
 * SQL forms are written against the facts relation the batch compiler builds, whose columns are
 * FACT_COLUMNS below; the TS lift must compute exactly what the SQL aggregate computes (same
 * floating-point operations in the same order per fact), which the law suite checks.
 */
export type MeasureState = number | null | WeightedSet;

export interface FactContext {
  grain: GrainId;
  bucket: number;
}

export interface MonoidMeasure<S extends MeasureState = MeasureState> {
  readonly kind: 'monoid';
  readonly name: string;
  readonly description: string;
  readonly monoid: Monoid<S>;
  lift(fact: IntervalFact, ctx: FactContext): S;
  finalize(state: S): number | null;
  readonly sql: {
    /** DuckDB aggregate over the facts relation giving the state. */
    readonly aggregate: string;
    /** DuckDB aggregate merging a column of states (e.g. batch shards) into one state. */
    merge(stateColumn: string): string;
    /** DuckDB expression from a state to the value users read. */
    finalize(stateColumn: string): string;
  };
}

export interface DerivedMeasure {
  readonly kind: 'derived';
  readonly name: string;
  readonly description: string;
  readonly inputs: readonly string[];
  compute(values: Readonly<Record<string, number | null>>): number | null;
  /** DuckDB expression over the finalized input columns; `column(name)` quotes an input. */
  sql(column: (name: string) => string): string;
}

// biome-ignore lint/suspicious/noExplicitAny: a measure of any state type, erased at the catalog boundary
export type AnyMonoidMeasure = MonoidMeasure<any>;
export type Measure = AnyMonoidMeasure | DerivedMeasure;

/**
 * Columns of the facts relation (one row per interval fact, already bucketed), the contract between
 * these SQL forms and the batch compiler.
 */
export const FACT_COLUMNS = {
  meter_id: 'VARCHAR',
  channel: "VARCHAR: 'import' | 'export'",
  interval_start_ms: 'BIGINT, UTC epoch ms',
  interval_minutes: 'INTEGER, the reading interval',
  span_minutes: 'DOUBLE, minutes the kWh covers (> interval_minutes after a register gap)',
  kwh: 'DOUBLE, NULL when flagged',
  cents_per_kwh: 'DOUBLE, tariff price of the interval (local time, site zone)',
  standing_share_cents: "DOUBLE, standing charge × interval_minutes / minutes of the interval's local day",
  expected_member: "VARCHAR, meter_id || '/' || channel",
  expected_n: 'DOUBLE, bucket minutes (site zone) / registry interval minutes',
} as const;

const isImport = (f: IntervalFact) => f.channel === 'import';
const IMPORT = `channel = 'import'`;

function sumMeasure(
  name: string,
  description: string,
  lift: (f: IntervalFact, ctx: FactContext) => number,
  sqlTerm: string,
): MonoidMeasure<number> {
  return Object.freeze({
    kind: 'monoid',
    name,
    description,
    monoid: sumMonoid,
    lift,
    finalize: (s: number) => s,
    sql: {
      aggregate: `coalesce(sum(${sqlTerm}), 0)::DOUBLE`,
      merge: (c: string) => `coalesce(sum(${c}), 0)::DOUBLE`,
      finalize: (c: string) => c,
    },
  });
}

function extremumMeasure(
  name: string,
  description: string,
  which: 'min' | 'max',
  lift: (f: IntervalFact) => number | null,
  sqlTerm: string,
): MonoidMeasure<number | null> {
  return Object.freeze({
    kind: 'monoid',
    name,
    description,
    monoid: which === 'min' ? minMonoid : maxMonoid,
    lift,
    finalize: (s: number | null) => s,
    sql: {
      aggregate: `${which}(${sqlTerm})::DOUBLE`,
      merge: (c: string) => `${which}(${c})::DOUBLE`,
      finalize: (c: string) => c,
    },
  });
}

export const importKwh = sumMeasure(
  'importKwh',
  'kWh imported from the grid',
  (f) => (isImport(f) && f.kwh !== null ? f.kwh : 0),
  `CASE WHEN ${IMPORT} THEN kwh END`,
);

export const exportKwh = sumMeasure(
  'exportKwh',
  'kWh exported to the grid',
  (f) => (!isImport(f) && f.kwh !== null ? f.kwh : 0),
  `CASE WHEN channel = 'export' THEN kwh END`,
);

/** Distinct (meter, channel, interval) facts with energy, after dedupe and register conversion. */
export const readingCount = sumMeasure(
  'readingCount',
  'intervals present (both channels)',
  (f) => (f.kwh !== null ? 1 : 0),
  'CASE WHEN kwh IS NOT NULL THEN 1 END',
);

export const flaggedCount = sumMeasure(
  'flaggedCount',
  'intervals present but flagged (register went backwards), no energy counted',
  (f) => (f.kwh === null ? 1 : 0),
  'CASE WHEN kwh IS NULL THEN 1 END',
);

/**
 * Expected intervals: for every meter channel with at least one fact in the bucket, the bucket's
 * length in the site's zone divided by the meter's registry interval length (48 for a half-hourly
 * meter on a normal local day, 46 or 50 on DST days). Aggregated views sum that over the meter
 * channels *present* — a meter with no fact at all in a bucket is not expected there (the registry
 * has no install/removal dates and no channel list, so "present" is the only honest population).
 * The state is the weighted set {meter/channel → expected}, not a number, so that the same meter
 * channel seen by two partials (batch ⊕ speed, two shards) counts once: a plain sum would double it.
 * Cost: one entry per meter channel per aggregated bucket (≈ fleet size for the fleet view).
 */
export const expectedCount: MonoidMeasure<WeightedSet> = Object.freeze({
  kind: 'monoid',
  name: 'expectedCount',
  description: 'intervals expected from the meter channels present in the bucket',
  monoid: weightedSetMonoid,
  lift: (f: IntervalFact, ctx: FactContext) => ({
    [`${f.meter.meterId}/${f.channel}`]: bucketMinutes(ctx.grain, ctx.bucket, f.meter.timeZone) / f.meter.intervalMinutes,
  }),
  finalize: weightedSetTotal,
  sql: {
    aggregate: 'list_distinct(list(struct_pack(member := expected_member, n := expected_n)))',
    merge: (c: string) => `list_distinct(flatten(list(${c})))`,
    finalize: (c: string) => `coalesce(list_sum(list_transform(${c}, e -> e.n)), 0)::DOUBLE`,
  },
});

export const minIntervalKwh = extremumMeasure(
  'minIntervalKwh',
  'smallest import kWh of one fact',
  'min',
  (f) => (isImport(f) ? f.kwh : null),
  `CASE WHEN ${IMPORT} THEN kwh END`,
);

export const maxIntervalKwh = extremumMeasure(
  'maxIntervalKwh',
  'largest import kWh of one fact',
  'max',
  (f) => (isImport(f) ? f.kwh : null),
  `CASE WHEN ${IMPORT} THEN kwh END`,
);

/** Average import power over a fact's span (kW = kWh × 60 / minutes), the highest in the bucket. */
export const peakDemandKw = extremumMeasure(
  'peakDemandKw',
  'highest average import kW over one fact',
  'max',
  (f) => (isImport(f) && f.kwh !== null ? (f.kwh * 60) / f.spanMinutes : null),
  `CASE WHEN ${IMPORT} THEN kwh * 60 / span_minutes END`,
);

/** Import kWh × the time-of-use price of the interval's start (local time, meter's tariff). */
export const energyCostCents = sumMeasure(
  'energyCostCents',
  'energy charge of imported kWh under the meter tariff',
  (f) => (isImport(f) && f.kwh !== null ? f.kwh * centsPerKwhAt(f.meter.tariff, f.intervalStart, f.meter.timeZone) : 0),
  `CASE WHEN ${IMPORT} THEN kwh * cents_per_kwh END`,
);

/**
 * The daily standing charge, accrued pro rata per import interval present: each fact adds
 * charge × intervalMinutes / minutes of its local day. A fully covered local day pays exactly one
 * charge (also on 23/25-hour days); a day with gaps pays the covered share. Being a plain sum it
 * merges and rolls up exactly, unlike "one charge per meter-day", which would need a distinct set.
 * Flagged facts accrue too: the meter was there, only its energy is unknown.
 */
export const standingChargeCents = sumMeasure(
  'standingChargeCents',
  'standing charge accrued by the import intervals present',
  (f) =>
    isImport(f)
      ? (effectiveTariff(f.meter.tariff).standingChargeCentsPerDay * f.intervalMinutes) / localDayMinutes(f.intervalStart, f.meter.timeZone)
      : 0,
  `CASE WHEN ${IMPORT} THEN standing_share_cents END`,
);

export const netKwh: DerivedMeasure = Object.freeze({
  kind: 'derived',
  name: 'netKwh',
  description: 'import − export',
  inputs: ['importKwh', 'exportKwh'],
  compute: (v: Readonly<Record<string, number | null>>) => (v.importKwh ?? 0) - (v.exportKwh ?? 0),
  sql: (c: (name: string) => string) => `${c('importKwh')} - ${c('exportKwh')}`,
});

export const coverage: DerivedMeasure = Object.freeze({
  kind: 'derived',
  name: 'coverage',
  description: 'readingCount / expectedCount (null when nothing was expected)',
  inputs: ['readingCount', 'expectedCount'],
  compute: (v: Readonly<Record<string, number | null>>) => {
    const expected = v.expectedCount ?? 0;
    return expected > 0 ? (v.readingCount ?? 0) / expected : null;
  },
  sql: (c: (name: string) => string) => `CASE WHEN ${c('expectedCount')} > 0 THEN ${c('readingCount')} / ${c('expectedCount')} END`,
});

export const costCents: DerivedMeasure = Object.freeze({
  kind: 'derived',
  name: 'costCents',
  description: 'energy charge + accrued standing charge',
  inputs: ['energyCostCents', 'standingChargeCents'],
  compute: (v: Readonly<Record<string, number | null>>) => (v.energyCostCents ?? 0) + (v.standingChargeCents ?? 0),
  sql: (c: (name: string) => string) => `${c('energyCostCents')} + ${c('standingChargeCents')}`,
});

/** Every measure, for views that want all of them. */
export const ALL_MEASURES: readonly Measure[] = [
  importKwh,
  exportKwh,
  netKwh,
  readingCount,
  flaggedCount,
  expectedCount,
  coverage,
  minIntervalKwh,
  maxIntervalKwh,
  peakDemandKw,
  energyCostCents,
  standingChargeCents,
  costCents,
];
