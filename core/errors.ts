/**
 * One error type for all of meterflow. Every failure a user can meet has a code declared once in
 * ERRORS below, with its HTTP status (for the serving layer) and whether retrying may help
 * (for retry loops, which read `retriable` instead of matching messages).
 */
export const ERRORS = {
  MF_CONFIG_INVALID: { status: 500, retriable: false },
  MF_CONFIG_FILE_UNREADABLE: { status: 500, retriable: false },
  MF_JAVA_MISSING: { status: 500, retriable: false },
  MF_JAVA_VERSION: { status: 500, retriable: false },
  MF_MAVEN_MISSING: { status: 500, retriable: false },
  MF_JARS_FETCH_FAILED: { status: 500, retriable: true },
  MF_PORT_IN_USE: { status: 500, retriable: false },
  MF_SERVICE_NOT_READY: { status: 503, retriable: true },
  MF_SERVICE_EXITED: { status: 503, retriable: false },
  MF_SERVICE_STOP_TIMEOUT: { status: 500, retriable: true },
  MF_EXTERNAL_CLUSTER: { status: 500, retriable: false },
  MF_KAFKA_UNREACHABLE: { status: 503, retriable: true },
  MF_CASSANDRA_UNREACHABLE: { status: 503, retriable: true },
  MF_MIGRATION_FAILED: { status: 500, retriable: false },
  MF_MIGRATION_CHANGED: { status: 500, retriable: false },
  MF_BAD_REQUEST: { status: 400, retriable: false },
  MF_UNAUTHORIZED: { status: 401, retriable: false },
  MF_NOT_FOUND: { status: 404, retriable: false },
  MF_FORBIDDEN: { status: 403, retriable: false },
  MF_PAYLOAD_TOO_LARGE: { status: 413, retriable: false },
  MF_UNSUPPORTED_MEDIA_TYPE: { status: 415, retriable: false },
  MF_RATE_LIMITED: { status: 429, retriable: true },
  MF_SCHEMA_UNKNOWN_VERSION: { status: 400, retriable: false },
  MF_SCHEMA_DECODE_FAILED: { status: 400, retriable: false },
  MF_SCHEMA_BAD_MAGIC: { status: 400, retriable: false },
  MF_SCHEMA_WRONG_TYPE: { status: 400, retriable: false },
  MF_SCHEMA_ENCODE_FAILED: { status: 500, retriable: false },
  MF_SOURCE_BAD_HEADER: { status: 400, retriable: false },
  MF_INTERNAL: { status: 500, retriable: false },
  /** A view, measure or tariff declaration is inconsistent (checked when it is defined). */
  MF_VIEW_INVALID: { status: 500, retriable: false },
  MF_TARIFF_INVALID: { status: 500, retriable: false },
  /** The speed fold met a reading whose meter is not in the registry (VEE should have rejected it). */
  MF_FOLD_UNKNOWN_METER: { status: 500, retriable: false },
  /** The batch layer: nothing archived yet, a master or version manifest that does not check out, an unknown version. */
  MF_BATCH_NO_DATA: { status: 503, retriable: true },
  MF_BATCH_MANIFEST_INVALID: { status: 500, retriable: false },
  MF_BATCH_VERSION_UNKNOWN: { status: 404, retriable: false },
  MF_BATCH_FAILED: { status: 500, retriable: false },
  /** `archive --once` stopped (signal, lost lease) before reaching the end of the topic it saw at start. */
  MF_ARCHIVE_INTERRUPTED: { status: 503, retriable: true },
  /** The view query API: a view name that is not declared; an Accept header naming no format served. */
  MF_VIEW_UNKNOWN: { status: 404, retriable: false },
  MF_NOT_ACCEPTABLE: { status: 406, retriable: false },
  /** `meterflow up`: the API did not become ready in time; a supervised component crashed too often and was given up. */
  MF_PIPELINE_NOT_READY: { status: 503, retriable: true },
  MF_PIPELINE_CRASH_LOOP: { status: 500, retriable: false },
  /** A job's lease is held by another worker. */
  MF_JOB_LEASE_HELD: { status: 409, retriable: true },
} as const satisfies Record<string, { status: number; retriable: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

export interface MeterflowErrorOptions {
  cause?: unknown;
  /** Structured facts for logs and API bodies (the bad key, the port, the last log lines...). */
  details?: Record<string, unknown>;
}

export class MeterflowError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: MeterflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeterflowError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retriable = ERRORS[code].retriable;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isMeterflowError(err: unknown, code?: ErrorCode): err is MeterflowError {
  return err instanceof MeterflowError && (code === undefined || err.code === code);
}
