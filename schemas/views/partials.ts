import type { ViewDefinition } from './define-view.ts';
import type { GrainId } from './grains.ts';
import type { IntervalFact } from './interval-facts.ts';
import type { FactContext, MeasureState } from './measures.ts';

/**
 * Partials: the monoid states of one view row, and the only operations the layers apply to them.
 * The serving layer merges batch ⊕ speed with `plusStates`, then reads with `finalizeStates`.
 */
export type MeasureStates = Readonly<Record<string, MeasureState>>;
export type MeasureValues = Readonly<Record<string, number | null>>;

/** One row of a view at one grain: what every execution path produces and the law suite compares. */
export interface ViewRow {
  view: string;
  grain: GrainId;
  /** encodeRowKey of the dimension values. */
  key: string;
  /** Bucket id (grains.ts). */
  bucket: number;
  /** Monoid states: what is stored and merged. */
  states: MeasureStates;
  /** Finalized monoid values and derived measures: what users read. */
  values: MeasureValues;
}

export function zeroStates(view: ViewDefinition): MeasureStates {
  const out: Record<string, MeasureState> = {};
  for (const m of view.monoidMeasures) out[m.name] = m.monoid.zero;
  return out;
}

export function plusStates(view: ViewDefinition, a: MeasureStates, b: MeasureStates): MeasureStates {
  const out: Record<string, MeasureState> = {};
  for (const m of view.monoidMeasures) out[m.name] = m.monoid.plus(a[m.name] ?? m.monoid.zero, b[m.name] ?? m.monoid.zero);
  return out;
}

export function liftFact(view: ViewDefinition, fact: IntervalFact, ctx: FactContext): MeasureStates {
  const out: Record<string, MeasureState> = {};
  for (const m of view.monoidMeasures) out[m.name] = m.lift(fact, ctx);
  return out;
}

export function finalizeStates(view: ViewDefinition, states: MeasureStates): MeasureValues {
  const values: Record<string, number | null> = {};
  for (const m of view.monoidMeasures) values[m.name] = m.finalize(states[m.name] ?? m.monoid.zero);
  for (const d of view.derivedMeasures) values[d.name] = d.compute(values);
  return values;
}
