import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { MeterflowError } from '../../core/errors.ts';

export interface RateLimitSettings {
  max: number;
  timeWindowMs: number;
}

/**
 * Per-key rate limit for the routes of `app` (and those registered after in it). Keyed by the API
 * key id, so one client's several addresses share a budget and clients behind one NAT do not; an
 * anonymous request (auth not yet on) is keyed by its address. In-memory per process: with N
 * serving processes a key gets N × max — a shared store (Redis) is a plugin option when that matters.
 */
export async function registerRateLimit(app: FastifyInstance, settings: RateLimitSettings): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: settings.max,
    timeWindow: settings.timeWindowMs,
    keyGenerator: (request) => (request.caller ? `key:${request.caller.keyId}` : `ip:${request.ip}`),
    errorResponseBuilder: (request, context) =>
      new MeterflowError(
        'MF_RATE_LIMITED',
        `rate limit of ${context.max} requests per ${settings.timeWindowMs / 1000} s exceeded for ${
          request.caller ? `key ${request.caller.keyId}` : `address ${request.ip}`
        }; retry in ${context.after} (serving.rateLimit)`,
        { details: { limit: context.max, timeWindowMs: settings.timeWindowMs, retryAfterSeconds: Math.ceil(context.ttl / 1000) } },
      ),
  });
}
