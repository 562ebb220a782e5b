import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MeterflowError } from '../../core/errors.ts';
import { type CsvColumnMapping, readAusgrid, readCsv, readLcl, readOpsd, type SourceItem } from '../sources/index.ts';

export const REPLAY_FORMATS = ['lcl', 'opsd', 'ausgrid', 'csv'] as const;
export type ReplayFormat = (typeof REPLAY_FORMATS)[number];

/** The CSV files to replay: the file itself, or a folder's `*.csv` files in name order. */
export async function replayFileList(path: string): Promise<string[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (cause) {
    throw new MeterflowError('MF_BAD_REQUEST', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  if (!info.isDirectory()) return [path];
  const files = (await readdir(path)).filter((f) => f.toLowerCase().endsWith('.csv')).sort();
  if (files.length === 0) throw new MeterflowError('MF_BAD_REQUEST', `no .csv files in ${path}`);
  return files.map((f) => join(path, f));
}

export function parseFile(path: string, format: ReplayFormat, mapping?: CsvColumnMapping): AsyncGenerator<SourceItem> {
  switch (format) {
    case 'lcl':
      return readLcl(path);
    case 'opsd':
      return readOpsd(path);
    case 'ausgrid':
      return readAusgrid(path);
    case 'csv':
      if (mapping === undefined) throw new MeterflowError('MF_BAD_REQUEST', 'format csv needs a column mapping (--mapping FILE.json)');
      return readCsv(path, mapping);
  }
}

/** Lines in the files, counted fast (for a progress bar with an ETA). */
export async function countLines(files: string[]): Promise<number> {
  let lines = 0;
  for (const file of files) {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    }
  }
  return lines;
}
