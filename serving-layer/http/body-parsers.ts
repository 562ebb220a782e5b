import type { FastifyInstance } from 'fastify';
import { MeterflowError } from '../../core/errors.ts';
import { jsonErrorPosition } from './json-error-position.ts';

export const NDJSON = 'application/x-ndjson';

/** One NDJSON line as received: its text and its 1-based line number. */
export interface NdjsonLine {
  line: number;
  text: string;
}

/**
 * Body parsers shared by every route:
 * - JSON, replacing Fastify's default so a syntax error says where it is (position, line, column);
 * - NDJSON, one JSON value per line, parsed into lines here and each line decoded by the route, so
 *   one bad line is one refused item rather than a refused request.
 */
export function installBodyParsers(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser(NDJSON, { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, splitNdjson(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

// Keys that can poison prototypes if a later handler merges the object (what Fastify's default
// parser, secure-json-parse, refuses); JSON.parse itself only creates own properties.
const POISON = /"(?:__proto__|constructor)"\s*:/;

export function parseJsonBody(text: string): unknown {
  if (text.trim().length === 0) throw new MeterflowError('MF_BAD_REQUEST', 'the request body is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    // V8 names the position for some syntax errors only ("Unexpected token" has none since Node 20).
    const position = Number(/at position (\d+)/.exec(message)?.[1] ?? jsonErrorPosition(text) ?? Number.NaN);
    const where = Number.isInteger(position) ? lineColumn(text, position) : undefined;
    throw new MeterflowError(
      'MF_BAD_REQUEST',
      `the request body is not valid JSON${where ? ` at line ${where.line}, column ${where.column}` : ''}: ${message}`,
      { details: where ? { position, ...where } : {} },
    );
  }
  if (POISON.test(text))
    throw new MeterflowError('MF_BAD_REQUEST', 'the request body may not contain the keys "__proto__" or "constructor"');
  return value;
}

/** Bodies the NDJSON parser produced, so a route tells them from a JSON array without re-reading headers. */
const ndjsonBodies = new WeakSet<object>();

export function isNdjsonBody(body: unknown): body is NdjsonLine[] {
  return typeof body === 'object' && body !== null && ndjsonBodies.has(body);
}

export function splitNdjson(text: string): NdjsonLine[] {
  const lines: NdjsonLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    // Blank lines (a trailing newline, a separator) are not items.
    if (line.trim().length > 0) lines.push({ line: i + 1, text: line });
  });
  if (lines.length === 0) throw new MeterflowError('MF_BAD_REQUEST', 'the request body is empty (no NDJSON lines)');
  ndjsonBodies.add(lines);
  return lines;
}

function lineColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  return { line, column: position - before.lastIndexOf('\n') };
}
