/**
 * Quoting for the only things compiled SQL embeds as text: identifiers and literals that come from
 * declarations (view, measure and tariff definitions), never from users. Anything from outside
 * (file lists, time ranges) is passed as a bound parameter instead.
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A possibly schema-qualified table name: each part quoted. */
export function quoteQualified(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A finite number as a DOUBLE literal (shortest round-trip form, so DuckDB parses the same double). */
export function sqlDouble(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  return `${String(value)}::DOUBLE`;
}
