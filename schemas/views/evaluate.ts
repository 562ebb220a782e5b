import { MeterflowError } from '../../core/errors.ts';
import type { Meter } from '../reading.ts';
import { assertServesGrain, type ViewDefinition } from './define-view.ts';
import { bucketOf, type GrainId } from './grains.ts';
import { type IntervalFact, intervalFact, type RegisterRead, registerFact } from './interval-facts.ts';
import { finalizeStates, liftFact, type MeasureStates, plusStates, type ViewRow, zeroStates } from './partials.ts';
import { type LoggedReading, readingIdentity, supersedes, uncountableReason } from './reading-identity.ts';
import { rowKeyOfMeter } from './row-key.ts';

/**
 * The reference execution of a view: the whole input at once, no incremental state, written to be
 * obviously right rather than fast. It is the executable spec the speed fold and the batch SQL are
 * held to by the law suite, and a convenient oracle for other layers' tests.
 */
export type MeterLookup = (meterId: string) => Meter | undefined;

export function meterLookup(meters: Iterable<Meter>): MeterLookup {
  const byId = new Map<string, Meter>();
  for (const m of meters) byId.set(m.meterId, m);
  return (id) => byId.get(id);
}

/** Dedupe (reading-identity.ts), then turn each meter channel's series into interval facts. */
export function deriveFacts(readings: Iterable<LoggedReading>, meters: MeterLookup): IntervalFact[] {
  const winners = new Map<string, LoggedReading>();
  for (const r of readings) {
    if (uncountableReason(r.reading) !== undefined) continue;
    const id = readingIdentity(r.reading);
    const incumbent = winners.get(id);
    if (incumbent === undefined || supersedes(r, incumbent)) winners.set(id, r);
  }
  const series = new Map<string, LoggedReading[]>();
  for (const w of winners.values()) {
    const key = `${w.reading.meterId}\u0000${w.reading.channel}`;
    const list = series.get(key) ?? [];
    list.push(w);
    series.set(key, list);
  }
  const facts: IntervalFact[] = [];
  for (const list of series.values()) {
    list.sort((a, b) => a.reading.intervalStart - b.reading.intervalStart);
    let previousRegister: RegisterRead | undefined;
    for (const { reading } of list) {
      const meter = meters(reading.meterId);
      if (meter === undefined) throw unknownMeter(reading.meterId);
      if (reading.kind === 'interval') {
        facts.push(intervalFact(meter, reading.channel, reading.intervalStart, reading.intervalMinutes, reading.value));
      } else {
        const fact = registerFact(meter, reading.channel, reading, previousRegister);
        if (fact !== undefined) facts.push(fact);
        previousRegister = reading;
      }
    }
  }
  return facts;
}

/** All rows of `view` at `grain`, sorted by key then bucket. */
export function evaluateView(view: ViewDefinition, grain: GrainId, readings: Iterable<LoggedReading>, meters: MeterLookup): ViewRow[] {
  assertServesGrain(view, grain);
  const facts = deriveFacts(readings, meters);
  // Same association order as the speed fold is not needed here: values are compared with a tolerance.
  const rows = new Map<string, { key: string; bucket: number; states: MeasureStates }>();
  for (const fact of facts) {
    const key = rowKeyOfMeter(view.dimensions, fact.meter);
    const bucket = bucketOf(grain, fact.intervalStart, fact.meter.timeZone);
    const id = `${key}\u0000${bucket}`;
    const row = rows.get(id) ?? { key, bucket, states: zeroStates(view) };
    row.states = plusStates(view, row.states, liftFact(view, fact, { grain, bucket }));
    rows.set(id, row);
  }
  return [...rows.values()]
    .map((r) => ({ view: view.name, grain, key: r.key, bucket: r.bucket, states: r.states, values: finalizeStates(view, r.states) }))
    .sort(compareRows);
}

export function compareRows(a: { key: string; bucket: number }, b: { key: string; bucket: number }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : a.bucket - b.bucket;
}

export function unknownMeter(meterId: string): MeterflowError {
  return new MeterflowError('MF_FOLD_UNKNOWN_METER', `reading for meter ${meterId}, which is not in the registry`, {
    details: { meterId },
  });
}
