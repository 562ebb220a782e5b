import { z } from 'zod';
import type { MeterReading } from '../../schemas/reading.ts';
import { type Rejection, reject } from './reasons.ts';

/**
 * Turns one JSON object (an HTTP body item or an NDJSON line) into a MeterReading, or a MALFORMED
 * rejection whose message names the bad field. Only the shape is checked here; the VEE rules
 * (validateReading) run afterwards, the same as for every other input path.
 *
 * Unknown keys are refused so a typo ("vaule") is an error, not a silently missing value.
 * intervalStart may be epoch milliseconds or an ISO-8601 string with an explicit offset (a time
 * without a zone would be a guess).
 */
const readingJson = z.strictObject({
  meterId: z.string().min(1),
  intervalStart: z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]),
  intervalMinutes: z.number().int().positive(),
  channel: z.enum(['import', 'export']).default('import'),
  kind: z.enum(['interval', 'register']).default('interval'),
  // Any number, even one JSON.parse made infinite (1e999): validateReading refuses it as NOT_FINITE, not as a shape error.
  value: z.custom<number>((v) => typeof v === 'number', { message: 'expected a number' }),
  quality: z.enum(['actual', 'estimated', 'edited']).default('actual'),
  correction: z.boolean().default(false),
});

export type ParseResult = { ok: true; reading: MeterReading } | Rejection;

/** `source` is set by the caller (e.g. "http:<key name>"), never taken from the payload. */
export function parseReadingJson(input: unknown, source: string): ParseResult {
  const parsed = readingJson.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined || issue.path.length === 0 ? 'reading' : `field ${issue.path.join('.')}`;
    const extra = issue?.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    return reject('MALFORMED', `${field}: ${issue?.message ?? 'invalid'}${extra}`);
  }
  const { intervalStart, ...rest } = parsed.data;
  const start = typeof intervalStart === 'number' ? intervalStart : Date.parse(intervalStart);
  if (!Number.isSafeInteger(start)) return reject('MALFORMED', `field intervalStart: ${String(intervalStart)} is not a usable time`);
  return { ok: true, reading: { ...rest, intervalStart: start, source } };
}

/** One NDJSON line: JSON syntax errors are MALFORMED too. */
export function parseReadingJsonLine(line: string, source: string): ParseResult {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch (err) {
    return reject('MALFORMED', `line is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseReadingJson(input, source);
}
