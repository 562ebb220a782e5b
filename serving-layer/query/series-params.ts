import { MeterflowError } from '../../core/errors.ts';
import {
  decodeRowKey,
  encodeRowKey,
  FLEET_VALUE,
  GRAIN_IDS,
  type GrainId,
  isLocalGrain,
  nominalMinutes,
  VIEWS,
  type ViewDefinition,
  viewByName,
} from '../../schemas/views/index.ts';

/** A series request after validation: everything the merge needs, nothing left to check. */
export interface SeriesQuery {
  view: ViewDefinition;
  /** encodeRowKey form, dimensions in the view's declared order. */
  key: string;
  grain: GrainId;
  /** Bucket ids (grains.ts): buckets whose id lies in [from, to) are answered. */
  from: number;
  to: number;
  /** Requested measure names, in the view's declared order when none were named. */
  measures: string[];
}

export interface SeriesParams {
  key?: string;
  from?: string;
  to?: string;
  grain?: string;
  measures?: string;
}

/** At most this many buckets of the grain in [from, to) (15-minute buckets: ~2.8 years). */
export const MAX_BUCKETS = 100_000;

const bad = (message: string, details: Record<string, unknown> = {}) => new MeterflowError('MF_BAD_REQUEST', message, { details });

export function resolveView(name: string): ViewDefinition {
  const view = viewByName(name);
  if (view === undefined) {
    const known = VIEWS.map((v) => v.name);
    throw new MeterflowError('MF_VIEW_UNKNOWN', `unknown view "${name}"; known views: ${known.join(', ')}`, {
      details: { view: name, views: known },
    });
  }
  return view;
}

export function parseSeriesQuery(view: ViewDefinition, p: SeriesParams): SeriesQuery {
  const grain = parseGrain(view, p.grain);
  const key = parseKey(view, p.key);
  const from = parseInstant('from', p.from);
  const to = parseInstant('to', p.to);
  if (from >= to) {
    throw bad(`from (${iso(from)}) must be before to (${iso(to)}); the range is [from, to)`, { from: p.from, to: p.to });
  }
  const buckets = Math.ceil((to - from) / (nominalMinutes(grain) * 60_000));
  if (buckets > MAX_BUCKETS) {
    throw bad(
      `the range ${p.from} .. ${p.to} spans about ${buckets} buckets of grain ${grain}; at most ${MAX_BUCKETS} are served per request: narrow the range or use a coarser grain (${view.grains.join(', ')})`,
      { buckets, maxBuckets: MAX_BUCKETS },
    );
  }
  return { view, key, grain, from, to, measures: parseMeasures(view, p.measures) };
}

export function parseGrain(view: ViewDefinition, grain: string | undefined): GrainId {
  if (grain === undefined || grain === '') return view.grains[0] as GrainId;
  if (!(GRAIN_IDS as readonly string[]).includes(grain)) {
    throw bad(`unknown grain "${grain}"; view ${view.name} serves ${view.grains.join(', ')}`, { grain, grains: view.grains });
  }
  if (!view.grains.includes(grain as GrainId)) {
    throw bad(`view ${view.name} does not serve grain "${grain}"; it serves ${view.grains.join(', ')}`, { grain, grains: view.grains });
  }
  return grain as GrainId;
}

/**
 * `key` is the encoded row key: `dim=value` pairs joined by `|` (`\` escapes `|`, `=` and `\`), e.g.
 * `meter=lcl:MAC000002` or `site=S1`. Pairs may come in any order; every dimension of the view is
 * needed. The fleet view needs no key (`fleet=all`).
 */
export function parseKey(view: ViewDefinition, key: string | undefined): string {
  const example = view.dimensions.map((d) => `${d}=…`).join('|');
  if (key === undefined || key === '') {
    if (view.dimensions.length === 1 && view.dimensions[0] === 'fleet') return encodeRowKey(['fleet'], [FLEET_VALUE]);
    throw bad(`key is required: the row of view ${view.name} as ${example}`, { dimensions: view.dimensions });
  }
  let pairs: Record<string, string>;
  try {
    pairs = decodeRowKey(key);
  } catch {
    throw bad(`malformed key "${key}": expected dim=value pairs joined by "|", e.g. ${example}`, { key, dimensions: view.dimensions });
  }
  const names = Object.keys(pairs);
  for (const name of names) {
    if (!(view.dimensions as readonly string[]).includes(name)) {
      throw bad(`unknown dimension "${name}" in key for view ${view.name}; its dimensions are ${view.dimensions.join(', ')} (${example})`, {
        key,
        dimension: name,
        dimensions: view.dimensions,
      });
    }
  }
  const pairCount = key.replace(/\\./g, '').split('|').length;
  if (pairCount !== names.length) throw bad(`key "${key}" repeats a dimension; expected ${example}`, { key, dimensions: view.dimensions });
  const missing = view.dimensions.filter((d) => !(d in pairs));
  if (missing.length > 0) {
    throw bad(`key "${key}" lacks dimension ${missing.join(', ')} of view ${view.name}; expected ${example}`, {
      key,
      dimensions: view.dimensions,
    });
  }
  for (const [name, value] of Object.entries(pairs)) {
    if (value === '') throw bad(`key "${key}": dimension ${name} has an empty value`, { key });
  }
  return encodeRowKey(
    view.dimensions,
    view.dimensions.map((d) => pairs[d] as string),
  );
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `YYYY-MM-DD` (midnight UTC; for local grains, the local date label) or an ISO 8601 date-time
 * with `Z` or an offset. A time without a zone is refused: it would mean the server's zone.
 */
export function parseInstant(name: string, text: string | undefined): number {
  const allowed = 'YYYY-MM-DD or an ISO 8601 date-time with Z or an offset, e.g. 2013-01-01T00:00:00Z';
  if (text === undefined || text === '') throw bad(`${name} is required: ${allowed}`, { [name]: text ?? null });
  const date = DATE.exec(text);
  if (date) {
    const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
    const ms = Date.UTC(y, m - 1, d);
    const back = new Date(ms);
    if (back.getUTCFullYear() === y && back.getUTCMonth() === m - 1 && back.getUTCDate() === d) return ms;
  } else if (DATE_TIME.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  throw bad(`${name} "${text}" is not a date: expected ${allowed}`, { [name]: text });
}

export function parseMeasures(view: ViewDefinition, text: string | undefined): string[] {
  const all = view.measures.map((m) => m.name);
  if (text === undefined || text.trim() === '') return all;
  const names = text.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw bad(
      `unknown measure${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}; view ${view.name} has ${all.join(', ')}`,
      {
        measures: unknown,
        known: all,
      },
    );
  }
  return [...new Set(names)];
}

/** How a bucket id is written: local grains by their local date, the others as an ISO instant. */
export function bucketLabel(grain: GrainId, bucket: number): string {
  return isLocalGrain(grain) ? iso(bucket).slice(0, 10) : iso(bucket);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
