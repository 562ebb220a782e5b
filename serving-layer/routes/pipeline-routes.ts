import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../http/error-body.ts';
import type { PipelineStatus } from '../pipeline/pipeline-status.ts';

const nullableInt = { type: ['integer', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

const statusSchema = {
  type: 'object',
  properties: {
    now: { type: 'string' },
    readings: {
      type: 'object',
      properties: {
        topic: { type: 'string' },
        total: { type: 'integer', description: 'sum of the partitions’ high watermarks' },
        perSecond: {
          type: ['number', 'null'],
          description: 'readings/s over up to the last minute of samples; null until two samples ≥ 1 s apart',
        },
        partitions: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              partition: { type: 'integer' },
              highWatermark: { type: 'integer' },
              throughOffset: nullableInt,
              lag: { ...nullableInt, description: 'high − throughOffset − 1' },
              caughtUp: { type: 'boolean' },
              checkpointAt: nullableString,
            },
          },
        },
      },
    },
    speed: {
      type: 'object',
      properties: {
        generation: { type: 'integer' },
        reachable: { type: 'boolean' },
        lag: nullableInt,
        caughtUp: { type: 'boolean' },
        lastCheckpointAt: nullableString,
        freshnessMs: { type: ['number', 'null'] },
      },
    },
    batch: {
      type: ['object', 'null'],
      properties: {
        version: { type: 'integer' },
        createdAt: { type: 'string' },
        ageMs: { type: 'number' },
        dataAsOf: { type: 'string' },
        offsets: { type: 'object', additionalProperties: { type: 'integer' } },
      },
    },
    deadLetters: {
      type: 'object',
      properties: {
        topic: { type: 'string' },
        retained: nullableInt,
        counted: nullableInt,
        byReason: { type: 'object', additionalProperties: { type: 'integer' } },
      },
    },
  },
  required: ['now', 'readings', 'speed', 'batch', 'deadLetters'],
} as const;

/** GET /v1/pipeline: operator status (pipeline/pipeline-status.ts). Behind auth like every data route. */
export function pipelineRoutes(status: PipelineStatus): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/pipeline',
      {
        schema: {
          tags: ['operations'],
          summary: 'Pipeline status: log positions, speed lag, readings/s, freshness, batch version and age, dead letters by reason',
          response: { 200: statusSchema, ...errorResponses(401, 403, 429, 503) },
        },
      },
      async () => status.status(),
    );
  };
}
