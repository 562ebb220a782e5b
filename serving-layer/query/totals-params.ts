import { MeterflowError } from '../../core/errors.ts';
import type { Meter } from '../../schemas/reading.ts';
import { DIMENSIONS, type Dimension, dimensionValue, type GrainId, rowKeyOfMeter, type ViewDefinition } from '../../schemas/views/index.ts';
import { parseGrain, parseInstant, parseMeasures } from './series-params.ts';

/** A top-N or group-listing request after validation. */
export interface TotalsQuery {
  view: ViewDefinition;
  grain: GrainId;
  from: number;
  to: number;
  measures: string[];
  /** The view's row keys to total, from the meter registry (filtered by `parent`), sorted. */
  keys: string[];
  /** How many registry meters fall in each key. */
  meterCounts: Map<string, number>;
  parent: { dimension: Dimension; value: string } | null;
  /** Top: the measure to rank by, the order and how many; listing: null. */
  rank: { by: string; order: 'asc' | 'desc'; limit: number } | null;
}

export interface TotalsParams {
  from?: string;
  to?: string;
  grain?: string;
  measures?: string;
  parent?: string;
  by?: string;
  limit?: number | string;
  order?: string;
}

/**
 * Keys × Cassandra partition periods read per request: the speed layer keys rows by (key, period),
 * so a range over many keys is one read per pair. Past this, narrow the range, use a coarser grain
 * or filter with `parent`.
 */
export const MAX_KEY_PERIODS = 20_000;
export const MAX_LIMIT = 1_000;
const PARENT_DIMENSIONS: readonly Dimension[] = DIMENSIONS.filter((d) => d !== 'fleet');

const bad = (message: string, details: Record<string, unknown> = {}) => new MeterflowError('MF_BAD_REQUEST', message, { details });

export function parseTotalsQuery(
  view: ViewDefinition,
  p: TotalsParams,
  meters: Iterable<Meter>,
  periodsOf: (grain: GrainId, from: number, to: number) => number,
  ranked: boolean,
): TotalsQuery {
  const grain = parseGrain(view, p.grain);
  const from = parseInstant('from', p.from);
  const to = parseInstant('to', p.to);
  if (from >= to) throw bad(`from (${p.from}) must be before to (${p.to}); the range is [from, to)`, { from: p.from, to: p.to });
  const measures = parseMeasures(view, p.measures);
  const parent = parseParent(p.parent);
  const meterCounts = new Map<string, number>();
  for (const m of meters) {
    if (parent !== null && dimensionValue(m, parent.dimension) !== parent.value) continue;
    const key = rowKeyOfMeter(view.dimensions, m);
    meterCounts.set(key, (meterCounts.get(key) ?? 0) + 1);
  }
  const keys = [...meterCounts.keys()].sort();
  const reads = keys.length * periodsOf(grain, from, to);
  if (reads > MAX_KEY_PERIODS) {
    throw bad(
      `the request spans ${keys.length} keys × ${periodsOf(grain, from, to)} storage periods = ${reads} reads; at most ${MAX_KEY_PERIODS} are served: narrow the range, use a coarser grain (${view.grains.join(', ')}) or filter with parent=<dimension>=<value>`,
      { keys: keys.length, reads, maxReads: MAX_KEY_PERIODS },
    );
  }
  return { view, grain, from, to, measures, keys, meterCounts, parent, rank: ranked ? parseRank(view, p) : null };
}

/** `parent=<dimension>=<value>`: only keys whose meters have that value (e.g. region=London). */
function parseParent(text: string | undefined): TotalsQuery['parent'] {
  if (text === undefined || text === '') return null;
  const at = text.indexOf('=');
  const dimension = text.slice(0, at);
  const value = text.slice(at + 1);
  if (at <= 0 || value === '' || !(PARENT_DIMENSIONS as readonly string[]).includes(dimension)) {
    throw bad(`parent "${text}" must be <dimension>=<value> with dimension one of ${PARENT_DIMENSIONS.join(', ')}, e.g. region=London`, {
      parent: text,
      dimensions: PARENT_DIMENSIONS,
    });
  }
  return { dimension: dimension as Dimension, value };
}

function parseRank(view: ViewDefinition, p: TotalsParams): NonNullable<TotalsQuery['rank']> {
  const names = view.measures.map((m) => m.name);
  if (p.by === undefined || p.by === '') throw bad(`by is required: the measure to rank by, one of ${names.join(', ')}`, { known: names });
  if (!names.includes(p.by))
    throw bad(`unknown measure "${p.by}" in by; view ${view.name} has ${names.join(', ')}`, { by: p.by, known: names });
  const order = p.order === undefined || p.order === '' ? 'desc' : p.order;
  if (order !== 'asc' && order !== 'desc') throw bad(`order "${p.order}" must be asc or desc`, { order: p.order });
  const limitText = p.limit === undefined || p.limit === '' ? '10' : String(p.limit);
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > MAX_LIMIT) {
    throw bad(`limit "${limitText}" must be a whole number from 1 to ${MAX_LIMIT}`, { limit: limitText, maxLimit: MAX_LIMIT });
  }
  return { by: p.by, order, limit };
}
