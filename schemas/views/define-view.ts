import { MeterflowError } from '../../core/errors.ts';
import { DIMENSIONS, type Dimension } from './dimensions.ts';
import { type FinestGrainMinutes, GRAIN_IDS, type GrainId, grainOfMinutes, nominalMinutes } from './grains.ts';
import type { AnyMonoidMeasure, DerivedMeasure, Measure } from './measures.ts';

/**
 * A view, declared once; the speed fold, the batch SQL and the serving merge are all derived
 * from this object, so adding a view is adding one declaration to catalog.ts.
 */
export interface ViewSpec {
  /** snake_case; used as the table / Parquet / Cassandra name stem. */
  name: string;
  description?: string;
  /** Group-by dimensions, in key order. `fleet` stands alone. */
  dimensions: readonly Dimension[];
  /** The finest bucket, in minutes (15 or 60); always served. */
  finestGrainMinutes: FinestGrainMinutes;
  /** Coarser grains served too (day, month, local-day, local-month...). */
  grains: readonly GrainId[];
  measures: readonly Measure[];
}

export interface ViewDefinition {
  readonly name: string;
  readonly description: string;
  readonly dimensions: readonly Dimension[];
  readonly finestGrainMinutes: FinestGrainMinutes;
  /** Every grain served, finest first. */
  readonly grains: readonly GrainId[];
  readonly measures: readonly Measure[];
  readonly monoidMeasures: readonly AnyMonoidMeasure[];
  readonly derivedMeasures: readonly DerivedMeasure[];
}

const NAME = /^[a-z][a-z0-9_]{0,47}$/;

export function defineView(spec: ViewSpec): ViewDefinition {
  const fail = (message: string): never => {
    throw new MeterflowError('MF_VIEW_INVALID', `view ${spec.name}: ${message}`, { details: { view: spec.name } });
  };
  if (!NAME.test(spec.name)) fail('name must be snake_case letters, digits and "_" (max 48)');
  if (spec.dimensions.length === 0) fail('needs at least one dimension (use "fleet" for the whole fleet)');
  for (const d of spec.dimensions) if (!DIMENSIONS.includes(d)) fail(`unknown dimension "${d}"; known: ${DIMENSIONS.join(', ')}`);
  if (new Set(spec.dimensions).size !== spec.dimensions.length) fail('dimensions repeat');
  if (spec.dimensions.includes('fleet') && spec.dimensions.length > 1) fail('"fleet" cannot be combined with other dimensions');
  if (spec.finestGrainMinutes !== 15 && spec.finestGrainMinutes !== 60) fail('finestGrainMinutes must be 15 or 60');

  const finest = grainOfMinutes(spec.finestGrainMinutes);
  const grains = [finest];
  for (const g of spec.grains) {
    if (!GRAIN_IDS.includes(g)) fail(`unknown grain "${g}"; known: ${GRAIN_IDS.join(', ')}`);
    if (nominalMinutes(g) < nominalMinutes(finest)) fail(`grain ${g} is finer than the finest grain ${finest}`);
    if (!grains.includes(g)) grains.push(g);
  }
  grains.sort((a, b) => nominalMinutes(a) - nominalMinutes(b) || GRAIN_IDS.indexOf(a) - GRAIN_IDS.indexOf(b));

  const names = spec.measures.map((m) => m.name);
  if (names.length === 0) fail('needs at least one measure');
  if (new Set(names).size !== names.length) fail('measure names repeat');
  const monoidMeasures = spec.measures.filter((m): m is AnyMonoidMeasure => m.kind === 'monoid');
  const derivedMeasures = spec.measures.filter((m): m is DerivedMeasure => m.kind === 'derived');
  for (const d of derivedMeasures) {
    for (const input of d.inputs) {
      if (!monoidMeasures.some((m) => m.name === input)) fail(`derived measure ${d.name} needs the monoid measure ${input} in the view`);
    }
  }

  return Object.freeze({
    name: spec.name,
    description: spec.description ?? '',
    dimensions: Object.freeze([...spec.dimensions]),
    finestGrainMinutes: spec.finestGrainMinutes,
    grains: Object.freeze(grains),
    measures: Object.freeze([...spec.measures]),
    monoidMeasures: Object.freeze(monoidMeasures),
    derivedMeasures: Object.freeze(derivedMeasures),
  });
}

/** The grain check every layer does before serving or computing a view at a grain. */
export function assertServesGrain(view: ViewDefinition, grain: GrainId): void {
  if (!view.grains.includes(grain)) {
    throw new MeterflowError('MF_BAD_REQUEST', `view ${view.name} does not serve grain "${grain}"; it serves ${view.grains.join(', ')}`, {
      details: { view: view.name, grain, grains: view.grains },
    });
  }
}
