import type { MeterReading } from '../reading.ts';

/**
 * Which copy of a reading counts. A reading is identified by (meterId, channel, intervalStart);
 * every layer keeps exactly one copy per identity, chosen by this rule (the batch SQL expresses the
 * same rule as an arg_max ordering, see batch-layer/sql):
 *
 * 1. if any copy is a correction, the correction latest in the log wins (highest partition, then
 *    highest offset) — a correction replaces every earlier value, and a later correction replaces an
 *    earlier one;
 * 2. otherwise the copy earliest in the log wins (lowest partition, then lowest offset) — a re-sent
 *    reading counts once, and a re-send that is *not* flagged as a correction never changes the
 *    value, even if it carries a different one (only corrections may change data; the differing
 *    re-send is simply ignored by the views, it stays in the master dataset for audit).
 *
 * The rule depends only on the set of copies, never on arrival order, which is what lets the
 * speed fold and the batch SQL agree. Readings are keyed by meterId on Kafka, so all copies of one
 * identity normally sit in one partition; the partition is in the order only to make it total.
 */
export interface LoggedReading {
  reading: MeterReading;
  partition: number;
  offset: number;
}

export function readingIdentity(r: MeterReading): string {
  return `${r.meterId}\u0000${r.channel}\u0000${r.intervalStart}`;
}

/** True when `candidate` should replace `incumbent` (two copies of the same identity). */
export function supersedes(candidate: LoggedReading, incumbent: LoggedReading): boolean {
  const c = candidate.reading.correction;
  const i = incumbent.reading.correction;
  if (c !== i) return c;
  const order = candidate.partition - incumbent.partition || candidate.offset - incumbent.offset;
  // Corrections: later in the log wins. Plain re-sends: earlier in the log wins.
  return c ? order > 0 : order < 0;
}

/**
 * Why a decoded reading cannot be counted at all (undefined: it can). Ingest refuses these values
 * before Kafka; a record put on the readings topic by anything else is still never counted: the
 * speed layer dead-letters it and the batch SQL (COUNTABLE_READING_SQL) leaves it out, so both
 * layers count the same set of copies. Only value rules that do not depend on the clock or the
 * registry belong here: a rule whose answer changes over time would make the layers disagree.
 */
export function uncountableReason(r: MeterReading): 'NOT_FINITE' | 'NEGATIVE_VALUE' | undefined {
  if (!Number.isFinite(r.value)) return 'NOT_FINITE';
  if (r.value < 0) return 'NEGATIVE_VALUE';
  return undefined;
}

/** uncountableReason(r) === undefined, as a DuckDB predicate over the master dataset's `value`. */
export const COUNTABLE_READING_SQL = 'isfinite(value) AND value >= 0';
