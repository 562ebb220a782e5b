import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse/sync';

export type CsvRecord =
  | { line: number; fields: string[]; raw: string; error?: undefined }
  | { line: number; fields?: undefined; raw: string; error: string };

/**
 * Streams a CSV file as records with their 1-based line number and raw text, never holding the
 * file in memory. A record that cannot be read comes out as an `error` record instead of ending
 * the stream: one bad row must not hide the rows after it.
 *
 * Meter exports are mostly plain `a,b,c` lines, so a line without quotes is split directly (about
 * ten times faster than a general parser); a line with quotes goes through csv-parse, and a quoted
 * field that spans lines is gathered until its quotes balance.
 */
export async function* readCsvRecords(path: string): AsyncGenerator<CsvRecord> {
  const input = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let rest = '';
  let line = 0;
  let pending: { start: number; text: string } | undefined;
  try {
    for await (const chunk of input as AsyncIterable<string>) {
      const text = rest + chunk;
      let from = 0;
      for (let nl = text.indexOf('\n', from); nl !== -1; nl = text.indexOf('\n', from)) {
        const raw = text.charCodeAt(nl - 1) === 13 ? text.slice(from, nl - 1) : text.slice(from, nl);
        from = nl + 1;
        line++;
        const record = next(raw);
        if (record) yield record;
      }
      rest = text.slice(from);
    }
    if (rest.length > 0) {
      line++;
      const record = next(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
      if (record) yield record;
    }
    if (pending) yield { line: pending.start, raw: pending.text, error: 'quoted field not closed before the end of the file' };
  } finally {
    // A consumer that stops early (a header-only read) must not leave the file open.
    input.destroy();
  }

  function next(raw: string): CsvRecord | undefined {
    if (pending) {
      pending.text += `\n${raw}`;
      if (quotesBalanced(pending.text)) {
        const record = parseQuoted(pending.start, pending.text);
        pending = undefined;
        return record;
      }
      return undefined;
    }
    if (raw.length === 0 || raw.trim() === '') return undefined;
    if (!raw.includes('"')) return { line, fields: raw.split(','), raw };
    if (!quotesBalanced(raw)) {
      pending = { start: line, text: raw };
      return undefined;
    }
    return parseQuoted(line, raw);
  }
}

function quotesBalanced(text: string): boolean {
  let n = 0;
  for (let i = text.indexOf('"'); i !== -1; i = text.indexOf('"', i + 1)) n++;
  return n % 2 === 0;
}

function parseQuoted(line: number, raw: string): CsvRecord {
  try {
    const rows = parse(raw, { relax_column_count: true, relax_quotes: true }) as string[][];
    return { line, fields: rows[0] ?? [''], raw };
  } catch (err) {
    return { line, raw, error: (err as Error).message };
  }
}
