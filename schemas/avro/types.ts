/**
 * Domain forms of the two non-reading messages (the reading is in ../reading.ts). Code outside the
 * Kafka boundary sees these objects; the `.avsc` files beside this module are their wire form.
 */

/** Where a refused input was found: a Kafka record, a line of a file, or nowhere more precise (HTTP). */
export type DeadLetterOrigin =
  | { kind: 'kafka'; topic: string; partition: number; offset: number }
  | { kind: 'file'; file: string; line: number }
  | null;

export interface DeadLetter {
  /** Reason code, e.g. UNKNOWN_METER, MALFORMED (see ingest/validation/reasons.ts). */
  reason: string;
  /** Human message naming the value and the limit. */
  message: string;
  /** The input exactly as received. */
  original: Buffer;
  source: string;
  origin: DeadLetterOrigin;
  /** When it was refused, UTC epoch ms. */
  time: number;
}

export type ViewChangeCause = 'SPEED_FLUSH' | 'BATCH_PUBLISHED';

export interface ViewChange {
  view: string;
  /** Dimension name → value, e.g. { meterId: 'MAC000002' }. */
  key: Record<string, string>;
  grain: string;
  /** Start of the bucket, UTC epoch ms. */
  bucketStart: number;
  /** Measure name → absolute partial value (never a delta, so a replay rewrites the same value). */
  measures: Record<string, number>;
  generation: number;
  cause: ViewChangeCause;
  batchVersion: number | null;
  /** Readings-topic partition (as a string) → offset covered. */
  offsets: Record<string, number>;
}
