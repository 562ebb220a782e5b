import type { ErrorCode } from '../../core/errors.ts';

/**
 * Why an input was refused. Every refusal carries one of these codes into the dead-letter topic
 * (DeadLetter.reason), so operators can count and replay by reason.
 */
export const REJECT_REASONS = [
  'MALFORMED',
  'WRONG_SCHEMA',
  'NOT_FINITE',
  'UNKNOWN_METER',
  'INTERVAL_LENGTH_MISMATCH',
  'KIND_MISMATCH',
  'MISALIGNED_INTERVAL',
  'NONEXISTENT_LOCAL_TIME',
  'AMBIGUOUS_LOCAL_TIME',
  'FUTURE_TIMESTAMP',
  'TOO_OLD',
  'NEGATIVE_VALUE',
  'SPIKE_OVER_RATED',
  'REGISTER_BACKWARDS',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Rejection {
  ok: false;
  reason: RejectReason;
  /** Names the offending value and the limit it broke. */
  message: string;
}

export function reject(reason: RejectReason, message: string): Rejection {
  return { ok: false, reason, message };
}

/**
 * The dead-letter reason for a codec failure: bytes that are ours but broken are MALFORMED;
 * bytes that are not a reading of a version we know are WRONG_SCHEMA.
 */
export function reasonForErrorCode(code: ErrorCode): RejectReason {
  switch (code) {
    case 'MF_SCHEMA_BAD_MAGIC':
    case 'MF_SCHEMA_WRONG_TYPE':
    case 'MF_SCHEMA_UNKNOWN_VERSION':
      return 'WRONG_SCHEMA';
    default:
      return 'MALFORMED';
  }
}
