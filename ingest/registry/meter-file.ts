import { readFile } from 'node:fs/promises';
import { parse as parseCsv } from 'csv-parse/sync';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { MeterflowError } from '../../core/errors.ts';
import type { Meter } from '../../schemas/reading.ts';

/** One registry row as users write it (CSV header or JSON keys are the Meter field names). */
export const meterSchema = z.strictObject({
  meterId: z.string().trim().min(1).max(200),
  siteId: z.string().trim().min(1).max(200),
  region: z.string().trim().min(1).max(200),
  timeZone: z
    .string()
    .trim()
    .refine((tz) => IANAZone.isValidZone(tz), 'an IANA time zone such as Europe/London'),
  tariff: z.string().trim().min(1).max(100),
  ratedKw: z.coerce.number().positive().finite(),
  readingKind: z.enum(['interval', 'register']),
  intervalMinutes: z.coerce
    .number()
    .int()
    .refine((m) => [1, 5, 10, 15, 30, 60].includes(m), 'one of 1, 5, 10, 15, 30, 60'),
});

/**
 * Reads a registry file: `.json` (an array of meters) or CSV with a header row naming the fields.
 * Every bad row is reported with its row number and field, all at once, and nothing is imported.
 */
export async function readMeterFile(path: string): Promise<Meter[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new MeterflowError('MF_BAD_REQUEST', `cannot read meter file ${path}: ${(cause as Error).message}`, { cause });
  }
  let rows: unknown[];
  try {
    rows = path.toLowerCase().endsWith('.json')
      ? (JSON.parse(text) as unknown[])
      : (parseCsv(text, { columns: true, skip_empty_lines: true, trim: true }) as unknown[]);
  } catch (cause) {
    throw new MeterflowError(
      'MF_BAD_REQUEST',
      `meter file ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'CSV'}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  if (!Array.isArray(rows)) throw new MeterflowError('MF_BAD_REQUEST', `meter file ${path} must hold an array of meters`);
  if (rows.length === 0) {
    throw new MeterflowError(
      'MF_BAD_REQUEST',
      `meter file ${path} holds no meters (CSV needs a header row naming ${Object.keys(meterSchema.shape).join(',')})`,
    );
  }
  const meters: Meter[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    const parsed = meterSchema.safeParse(row);
    // Row numbers as a user sees them: CSV data starts on line 2, JSON items count from 1.
    const where = path.toLowerCase().endsWith('.json') ? `item ${i + 1}` : `line ${i + 2}`;
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(row)');
        problems.push(`${where}: ${field}: ${issue.message}`);
      }
      return;
    }
    if (seen.has(parsed.data.meterId)) problems.push(`${where}: meterId ${parsed.data.meterId} appears twice`);
    seen.add(parsed.data.meterId);
    meters.push(parsed.data);
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('\n  ');
    throw new MeterflowError('MF_BAD_REQUEST', `meter file ${path} has ${problems.length} problem(s); nothing was imported:\n  ${shown}`, {
      details: { problems },
    });
  }
  return meters;
}
