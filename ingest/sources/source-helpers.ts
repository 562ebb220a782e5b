import { basename } from 'node:path';
import { MeterflowError } from '../../core/errors.ts';
import type { RejectReason } from '../validation/reasons.ts';
import type { CsvRecord } from './csv-records.ts';
import type { SourceItem } from './types.ts';

export function rejectItem(file: string, record: CsvRecord, reason: RejectReason, message: string): SourceItem {
  return { file, line: record.line, reject: { reason, message, raw: Buffer.from(record.raw) } };
}

/** A header that is not the expected layout means the wrong file or a changed export: stop, do not guess. */
export function badHeader(path: string, expected: string, actual: string[] | undefined): MeterflowError {
  return new MeterflowError(
    'MF_SOURCE_BAD_HEADER',
    `${basename(path)}: header ${JSON.stringify(actual?.join(',') ?? '')} is not ${expected}`,
    {
      details: { file: path, header: actual ?? null },
    },
  );
}
