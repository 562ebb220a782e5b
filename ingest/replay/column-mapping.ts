import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { MeterflowError } from '../../core/errors.ts';
import type { CsvColumnMapping } from '../sources/index.ts';

/** The `--mapping` file of `ingest replay --format csv`, checked before a single row is read. */
const mappingSchema = z.strictObject({
  meter: z.string().min(1),
  time: z.string().min(1),
  value: z.string().min(1),
  channel: z.string().min(1).optional(),
  kind: z.string().min(1).optional(),
  timeFormat: z.enum(['iso', 'epoch-ms', 'epoch-s']),
  timeZone: z.string().min(1).optional(),
  intervalMinutes: z.number().int().positive(),
  defaultChannel: z.enum(['import', 'export']).optional(),
  defaultKind: z.enum(['interval', 'register']).optional(),
  meterPrefix: z.string().optional(),
  valueScale: z.number().positive().finite().optional(),
  source: z.string().min(1).optional(),
});

export async function readColumnMapping(path: string): Promise<CsvColumnMapping> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new MeterflowError('MF_BAD_REQUEST', `cannot read the column mapping ${path}: ${(cause as Error).message}`, { cause });
  }
  const parsed = mappingSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : '(mapping)');
      return `${key}: ${i.code === 'unrecognized_keys' ? `unknown key; allowed: ${Object.keys(mappingSchema.shape).join(', ')}` : i.message}`;
    });
    throw new MeterflowError('MF_BAD_REQUEST', `column mapping ${path} is invalid:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data as CsvColumnMapping;
}
