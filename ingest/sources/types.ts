import type { MeterReading } from '../../schemas/reading.ts';
import type { RejectReason } from '../validation/reasons.ts';

/** A row (or cell) a parser could not turn into a reading; it goes to the dead-letter topic as is. */
export interface SourceReject {
  reason: RejectReason;
  message: string;
  /** The CSV record exactly as read (without its line ending). */
  raw: Buffer;
}

/**
 * One item of a file source: a reading or a reject, always with where it came from. A row can give
 * several items (one per channel column), all with the row's line number. Parsers reject only what
 * cannot become a MeterReading; the VEE rules (validateReading) run afterwards on every reading.
 */
export type SourceItem =
  | {
      file: string;
      line: number;
      reading: MeterReading;
      /** The source record as read (a reference, not a copy): the dead letter's original bytes if a rule refuses the reading. */
      raw?: string;
      reject?: undefined;
    }
  | { file: string; line: number; reading?: undefined; reject: SourceReject };
