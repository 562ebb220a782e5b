import { Bool, Float64, Table, tableToIPC, Utf8, type Vector, vectorFromArray } from 'apache-arrow';
import { MeterflowError } from '../../core/errors.ts';
import type { GrainId } from '../../schemas/views/index.ts';
import { bucketLabel } from './series-params.ts';
import type { Provenance, SeriesResult } from './series-query.ts';

export const FORMATS = ['json', 'csv', 'arrow'] as const;
export type Format = (typeof FORMATS)[number];

export const CONTENT_TYPES: Record<Format, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  arrow: 'application/vnd.apache.arrow.stream',
};

const BY_MEDIA_TYPE: Record<string, Format> = {
  'application/json': 'json',
  'text/csv': 'csv',
  'application/vnd.apache.arrow.stream': 'arrow',
  'text/*': 'csv',
  'application/*': 'json',
  '*/*': 'json',
};

/** `format=` wins; else the Accept header (by q, then order); no Accept: JSON. */
export function chooseFormat(format: string | undefined, accept: string | undefined): Format {
  if (format !== undefined && format !== '') {
    if ((FORMATS as readonly string[]).includes(format)) return format as Format;
    throw new MeterflowError('MF_BAD_REQUEST', `unknown format "${format}"; allowed: ${FORMATS.join(', ')}`, {
      details: { format, formats: FORMATS },
    });
  }
  if (accept === undefined || accept.trim() === '') return 'json';
  const ranges = accept
    .split(',')
    .map((part, i) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
      const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? '1');
      return { type, q: Number.isFinite(q) ? q : 0, i };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    const f = BY_MEDIA_TYPE[r.type];
    if (f !== undefined) return f;
  }
  throw new MeterflowError(
    'MF_NOT_ACCEPTABLE',
    `none of the media types in Accept (${accept}) is served; use ${Object.values(CONTENT_TYPES)
      .map((t) => t.split(';')[0])
      .join(', ')} or format=${FORMATS.join('|')}`,
    { details: { accept, formats: FORMATS } },
  );
}

/** Buckets as JSON text, per bucket list: a cached answer's list is shared, so it is written once. */
const bucketsText = new WeakMap<SeriesResult['buckets'], string>();

/**
 * The JSON body as text, in the shape of the route's response schema (view-routes.ts), written here
 * rather than by the schema serializer, which spent most of a cached answer's time re-writing the
 * same buckets.
 */
export function seriesJsonText(r: SeriesResult): string {
  const q = r.query;
  let buckets = bucketsText.get(r.buckets);
  if (buckets === undefined) {
    buckets = JSON.stringify(r.buckets.map((b) => ({ bucket: b.label, provisional: b.provisional, values: b.values })));
    bucketsText.set(r.buckets, buckets);
  }
  const head = JSON.stringify({
    view: q.view.name,
    key: q.key,
    grain: q.grain,
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    measures: q.measures,
    provenance: provenanceJson(r.provenance, q.grain),
  });
  return `${head.slice(0, -1)},"buckets":${buckets}}`;
}

/** The provenance as the JSON bodies carry it: the batch's newest bucket as a label of the grain. */
export function provenanceJson(p: Provenance, grain: GrainId) {
  return {
    ...p,
    batch:
      p.batch === null
        ? null
        : { ...p.batch, newestBucket: p.batch.newestBucket === null ? null : bucketLabel(grain, p.batch.newestBucket) },
  };
}

/** Header line `bucket,provisional,<measures…>`, one line per bucket; a null value is an empty field. */
export function seriesCsv(r: SeriesResult): string {
  const lines = [['bucket', 'provisional', ...r.query.measures].join(',')];
  for (const b of r.buckets) {
    lines.push([b.label, String(b.provisional), ...r.query.measures.map((m) => formatNumber(b.values[m] ?? null))].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Arrow IPC stream: bucket (utf8 label), bucket_ms (float64), provisional (bool), one float64 per measure; provenance in the schema metadata. */
export function seriesArrow(r: SeriesResult): Uint8Array {
  const columns: Record<string, Vector> = {
    bucket: vectorFromArray(
      r.buckets.map((b) => b.label),
      new Utf8(),
    ),
    bucket_ms: vectorFromArray(
      r.buckets.map((b) => b.bucket),
      new Float64(),
    ),
    provisional: vectorFromArray(
      r.buckets.map((b) => b.provisional),
      new Bool(),
    ),
  };
  for (const m of r.query.measures) {
    columns[m] = vectorFromArray(
      r.buckets.map((b) => b.values[m] ?? null),
      new Float64(),
    );
  }
  const table = new Table(columns);
  table.schema.metadata.set('meterflow.provenance', JSON.stringify(r.provenance));
  return tableToIPC(table, 'stream');
}

/**
 * Provenance headers: the version, generation and staleness on every answer; the whole provenance
 * (x-meterflow-provenance) only with `full`, for the CSV and Arrow answers, which have no place for
 * it in the body (a JSON body carries it already).
 */
export function provenanceHeaders(r: { provenance: Provenance }, full = true): Record<string, string> {
  const p = r.provenance;
  const headers: Record<string, string> = {
    'x-meterflow-batch-version': String(p.batchVersion),
    'x-meterflow-speed-generation': p.speedGeneration === null ? 'none' : String(p.speedGeneration),
    'x-meterflow-stale': String(p.stale),
  };
  // Header values must be ASCII: anything else is written as a JSON \u escape.
  if (full)
    headers['x-meterflow-provenance'] = JSON.stringify(p).replace(
      /[^\x20-\x7e]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  return headers;
}

export function formatNumber(v: number | null): string {
  return v === null ? '' : String(v);
}
