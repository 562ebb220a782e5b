import { MeterflowError } from '../../core/errors.ts';
import type { Meter } from '../reading.ts';
import { type Dimension, dimensionValue } from './dimensions.ts';

/**
 * The stable string key of a view row: `dim=value` pairs in the view's declared dimension order,
 * joined by `|`, e.g. `site=S1|region=London`. `\`, `|` and `=` inside values are escaped with `\`,
 * an encoding the batch SQL reproduces with plain `replace()` calls (see ROW_KEY_SQL_ESCAPES), so
 * both layers write byte-identical keys. The key is what Cassandra rows, Parquet rows and
 * view-change events are keyed by.
 */
export function encodeRowKey(dimensions: readonly Dimension[], values: readonly string[]): string {
  if (dimensions.length !== values.length) {
    throw new MeterflowError('MF_VIEW_INVALID', `row key needs ${dimensions.length} values, got ${values.length}`);
  }
  return dimensions.map((d, i) => `${d}=${escapeKeyPart(values[i] as string)}`).join('|');
}

export function rowKeyOfMeter(dimensions: readonly Dimension[], meter: Meter): string {
  return encodeRowKey(
    dimensions,
    dimensions.map((d) => dimensionValue(meter, d)),
  );
}

/** Inverse of encodeRowKey: the dimension values by name. */
export function decodeRowKey(key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of splitUnescaped(key, '|')) {
    const [name, value] = splitUnescaped(part, '=');
    if (name === undefined || value === undefined) {
      throw new MeterflowError('MF_BAD_REQUEST', `malformed row key "${key}"`, { details: { key } });
    }
    out[unescapeKeyPart(name)] = unescapeKeyPart(value);
  }
  return out;
}

/** Applied in this order by both layers (backslash first, so escapes are not escaped again). */
export const ROW_KEY_SQL_ESCAPES: readonly (readonly [string, string])[] = [
  ['\\', '\\\\'],
  ['|', '\\|'],
  ['=', '\\='],
];

const NEEDS_ESCAPE = /[\\|=]/;

function escapeKeyPart(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = value;
  for (const [from, to] of ROW_KEY_SQL_ESCAPES) out = out.split(from).join(to);
  return out;
}

function unescapeKeyPart(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** Split on `sep` where it is not preceded by an escaping backslash. */
function splitUnescaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      current += c + (text[i + 1] as string);
      i++;
    } else if (c === sep) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}
