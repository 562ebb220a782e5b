/** Strict decimal parsing for meter values: Number('') is 0 and Number(' 1 ') is 1, neither of which we want silently. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Words head-end exports use for "no value": a missing value, not a malformed row. */
const MISSING = new Set(['null', 'nan', 'na', 'n/a', '-', '']);

export type ParsedNumber = { ok: true; value: number } | { ok: false; missing: boolean };

/** Parses a cell after trimming the padding some exports add (LCL pads values with spaces). */
export function parseDecimal(cell: string): ParsedNumber {
  const text = cell.trim();
  if (DECIMAL.test(text)) return { ok: true, value: Number(text) };
  return { ok: false, missing: MISSING.has(text.toLowerCase()) };
}
