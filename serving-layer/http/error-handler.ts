import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, MeterflowError } from '../../core/errors.ts';

/** Fastify's own client-error codes, mapped to ours with a message that says what to do. */
function fromFastifyError(err: FastifyError, request: FastifyRequest, bodyLimitBytes: number): MeterflowError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MeterflowError(
        'MF_PAYLOAD_TOO_LARGE',
        `request body is larger than the limit of ${bodyLimitBytes} bytes (serving.bodyLimitBytes); send smaller batches`,
        { details: { limitBytes: bodyLimitBytes } },
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new MeterflowError('MF_UNSUPPORTED_MEDIA_TYPE', `content type ${contentTypeOf(request)} is not accepted here`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new MeterflowError('MF_BAD_REQUEST', 'the request body is empty');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new MeterflowError('MF_BAD_REQUEST', 'the request body is not valid JSON');
    default:
      return undefined;
  }
}

function contentTypeOf(request: FastifyRequest): string {
  const ct = request.headers['content-type'];
  return ct ? JSON.stringify(ct) : '(none)';
}

/** 4xx codes for errors that carry only an HTTP status (from plugins). */
const BY_STATUS: Partial<Record<number, ErrorCode>> = {
  401: 'MF_UNAUTHORIZED',
  403: 'MF_FORBIDDEN',
  404: 'MF_NOT_FOUND',
  413: 'MF_PAYLOAD_TOO_LARGE',
  415: 'MF_UNSUPPORTED_MEDIA_TYPE',
  429: 'MF_RATE_LIMITED',
};

/**
 * Turns any error into a MeterflowError: ours pass through, schema validation and Fastify's client
 * errors become 4xx with a message naming the problem, and anything else is a logged 500 whose body
 * names the request id instead of leaking internals.
 */
export function toMeterflowError(err: unknown, request: FastifyRequest, bodyLimitBytes: number): MeterflowError {
  if (err instanceof MeterflowError) return err;
  const e = err as FastifyError;
  if (Array.isArray(e.validation)) {
    const validation = e.validation.map((v) => ({
      path: `${e.validationContext ?? ''}${v.instancePath}`,
      message: v.message,
      keyword: v.keyword,
    }));
    return new MeterflowError('MF_BAD_REQUEST', e.message, { details: { validation } });
  }
  const mapped = fromFastifyError(e, request, bodyLimitBytes);
  if (mapped) return mapped;
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    return new MeterflowError(BY_STATUS[status] ?? 'MF_BAD_REQUEST', e.message, { cause: err });
  }
  return new MeterflowError('MF_INTERNAL', `internal error (request ${request.id}); the server log has the details`, { cause: err });
}

/**
 * For `frameworkErrors` (a Fastify constructor option): errors the router raises before any route
 * or hook runs — a path with broken percent-encoding, a path parameter over Fastify's maxParamLength —
 * which Fastify would otherwise answer with a body of its own shape and `FST_` code.
 */
export function frameworkErrorHandler(bodyLimitBytes: number) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    let mfErr: MeterflowError;
    if (err.code === 'FST_ERR_BAD_URL') {
      mfErr = new MeterflowError('MF_BAD_REQUEST', 'the URL path is not valid: a percent-encoded part of it does not decode');
    } else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      mfErr = new MeterflowError('MF_BAD_REQUEST', `a path parameter is longer than the ${MAX_PARAM_LENGTH} characters allowed`, {
        details: { maxParamLength: MAX_PARAM_LENGTH },
      });
    } else {
      mfErr = toMeterflowError(err, request, bodyLimitBytes);
    }
    if (mfErr.status >= 500) request.log.error({ err, code: mfErr.code }, 'request failed');
    void reply.status(mfErr.status).send(mfErr.toJSON());
  };
}

/** Fastify's default maxParamLength, which buildApp keeps. */
export const MAX_PARAM_LENGTH = 100;

export function installErrorHandlers(app: FastifyInstance, bodyLimitBytes: number): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mfErr = toMeterflowError(err, request, bodyLimitBytes);
    if (mfErr.status >= 500) request.log.error({ err, code: mfErr.code, url: request.url }, 'request failed');
    else request.log.debug({ code: mfErr.code, message: mfErr.message }, 'request refused');
    if (mfErr.retriable && mfErr.status >= 500 && !reply.hasHeader('retry-after')) reply.header('retry-after', '5');
    return reply.status(mfErr.status).send(mfErr.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new MeterflowError(
      'MF_NOT_FOUND',
      `no route ${request.method} ${request.url.split('?')[0]}; the API is described at /docs`,
    );
    return reply.status(404).send(err.toJSON());
  });
}
