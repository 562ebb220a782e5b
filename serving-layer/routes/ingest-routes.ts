import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { MeterflowError } from '../../core/errors.ts';
import type { IngestInput, IngestOutcome } from '../../ingest/pipeline/ingest-pipeline.ts';
import { type ParseResult, parseReadingJson, parseReadingJsonLine } from '../../ingest/validation/parse-reading-json.ts';
import { REJECT_REASONS } from '../../ingest/validation/reasons.ts';
import { isNdjsonBody, NDJSON } from '../http/body-parsers.ts';
import { errorResponses } from '../http/error-body.ts';

/** What the route needs of the ingest pipeline: one input in, its acknowledged outcome out. */
export interface IngestSink {
  enqueue(input: IngestInput): Promise<IngestOutcome>;
}

export interface IngestRoutesOptions {
  sink: IngestSink;
  maxReadingsPerRequest: number;
}

const ACCEPTED_TYPES = ['application/json', NDJSON];

const readingDescription = `A reading: {"meterId": string, "intervalStart": epoch ms or ISO-8601 with offset, "intervalMinutes": int,
"value": kWh, "channel"?: "import"|"export", "kind"?: "interval"|"register", "quality"?: "actual"|"estimated"|"edited",
"correction"?: boolean}. Each item is checked on its own: a bad item is refused (and dead-lettered with its reason
and original bytes), the others are still accepted.`;

const resultSchema = {
  type: 'object',
  properties: {
    index: { type: 'integer', description: '0-based position of the item in the request' },
    line: { type: 'integer', description: 'NDJSON only: 1-based line number of the item' },
    status: { type: 'string', enum: ['accepted', 'rejected'] },
    reason: { type: 'string', enum: [...REJECT_REASONS] },
    message: { type: 'string' },
  },
  required: ['index', 'status'],
} as const;

/** POST /v1/readings: readings in over HTTP, through the same validation and pipeline as every other path. */
export const ingestRoutes: FastifyPluginAsync<IngestRoutesOptions> = async (app, opts) => {
  app.post(
    '/v1/readings',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Ingest meter readings (JSON array or NDJSON); answers once Kafka has acknowledged every item',
        consumes: ACCEPTED_TYPES,
        body: {
          type: 'array',
          minItems: 1,
          maxItems: opts.maxReadingsPerRequest,
          description: `A JSON array of readings, or NDJSON (one reading per line). At most ${opts.maxReadingsPerRequest} items (serving.maxReadingsPerRequest).`,
          // No type constraints here on purpose: per-item checks happen in the handler, so that one
          // bad item is one refused item (and the schema cannot coerce values before they are dead-lettered as received).
          items: { description: readingDescription },
        },
        response: {
          202: {
            type: 'object',
            properties: { accepted: { type: 'integer' }, rejected: { type: 'integer' }, results: { type: 'array', items: resultSchema } },
            required: ['accepted', 'rejected', 'results'],
          },
          ...errorResponses(400, 401, 403, 413, 415, 429, 503),
        },
      },
      schemaErrorFormatter: (errors, dataVar) => bodyError(errors, dataVar, opts.maxReadingsPerRequest),
      preParsing: async (request) => requireContentType(request),
    },
    async (request, reply) => {
      const source = `http:${request.caller?.keyName ?? 'anonymous'}`;
      const inputs = toInputs(request.body, source);
      const settled = await Promise.allSettled(inputs.map((i) => opts.sink.enqueue(i.input)));
      const failed = settled.filter((s) => s.status === 'rejected');
      if (failed.length > 0) {
        throw new MeterflowError(
          'MF_KAFKA_UNREACHABLE',
          `Kafka did not acknowledge ${failed.length} of ${inputs.length} items; send the whole request again (a re-sent reading counts once)`,
          { cause: failed[0]?.reason },
        );
      }
      const results = settled.map((s, index) => {
        const outcome = (s as PromiseFulfilledResult<IngestOutcome>).value;
        const line = inputs[index]?.line;
        return { index, ...(line === undefined ? {} : { line }), ...outcome };
      });
      const accepted = results.filter((r) => r.status === 'accepted').length;
      return reply.status(202).send({ accepted, rejected: results.length - accepted, results });
    },
  );
};

function toInputs(body: unknown, source: string): { input: IngestInput; line?: number }[] {
  if (isNdjsonBody(body)) {
    return body.map((l) => ({ input: toInput(parseReadingJsonLine(l.text, source), Buffer.from(l.text), source), line: l.line }));
  }
  return (body as unknown[]).map((item) => ({ input: toInput(parseReadingJson(item, source), Buffer.from(JSON.stringify(item)), source) }));
}

function toInput(parsed: ParseResult, raw: Buffer, source: string): IngestInput {
  // origin null: HTTP has no place more precise than the source (the key) to point at.
  if (parsed.ok) return { reading: parsed.reading, raw, source, origin: null };
  return { reject: { reason: parsed.reason, message: parsed.message, raw }, source, origin: null };
}

async function requireContentType(request: FastifyRequest): Promise<void> {
  const header = request.headers['content-type'];
  if (header === undefined) {
    const length = Number(request.headers['content-length'] ?? 0);
    if (length === 0 && request.headers['transfer-encoding'] === undefined)
      throw new MeterflowError('MF_BAD_REQUEST', 'the request body is empty');
  }
  const type = header?.split(';')[0]?.trim().toLowerCase();
  if (type === undefined || !ACCEPTED_TYPES.includes(type)) {
    throw new MeterflowError(
      'MF_UNSUPPORTED_MEDIA_TYPE',
      `content type ${header === undefined ? '(none)' : JSON.stringify(header)} is not accepted; send ${ACCEPTED_TYPES.join(' or ')}`,
      { details: { accepted: ACCEPTED_TYPES } },
    );
  }
}

type AjvError = { keyword: string; instancePath: string; message?: string; params: Record<string, unknown> };

/** Schema errors of the body, said in terms of this endpoint. */
function bodyError(errors: unknown[], dataVar: string, max: number): Error {
  const first = errors[0] as AjvError | undefined;
  let message = `${dataVar}${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}`;
  if (first?.instancePath === '' && first.keyword === 'type') {
    message = 'the body must be a JSON array of readings (or NDJSON: one reading per line)';
  } else if (first?.instancePath === '' && first.keyword === 'maxItems') {
    message = `too many readings in one request: at most ${max} (serving.maxReadingsPerRequest); split the batch`;
  } else if (first?.instancePath === '' && first.keyword === 'minItems') {
    message = 'the body holds no readings';
  }
  const err = new MeterflowError('MF_BAD_REQUEST', message, {
    details: { validation: errors.map((e) => ({ path: `${dataVar}${(e as AjvError).instancePath}`, message: (e as AjvError).message })) },
  });
  return err;
}
