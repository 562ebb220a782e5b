import type { IngestPipeline, IngestStats } from '../pipeline/ingest-pipeline.ts';
import type { CsvColumnMapping } from '../sources/index.ts';
import { parseFile, type ReplayFormat } from './replay-files.ts';

export interface ReplayProgress {
  file: string;
  /** Source lines consumed so far, over all files. */
  lines: number;
}

export interface ReplayResult extends IngestStats {
  files: number;
  /** Items the parsers produced (readings + parser rejects). */
  items: number;
}

/**
 * Replays files through the ingest pipeline: every item is validated, produced and acknowledged,
 * or dead-lettered with its file and line. Waits for the pipeline when it is full.
 */
export async function replayFiles(
  files: string[],
  format: ReplayFormat,
  pipeline: IngestPipeline,
  options: { mapping?: CsvColumnMapping; onProgress?: (p: ReplayProgress) => void } = {},
): Promise<ReplayResult> {
  let items = 0;
  let lines = 0;
  let reported = 0;
  for (const file of files) {
    let lastLine = 0;
    for await (const item of parseFile(file, format, options.mapping)) {
      if (!pipeline.hasRoom()) await pipeline.ready();
      const origin = { kind: 'file' as const, file: item.file, line: item.line };
      if (item.reading) pipeline.offer({ reading: item.reading, raw: item.raw, source: item.reading.source, origin });
      else pipeline.offer({ reject: item.reject, source: `replay:${format}:${item.file}`, origin });
      items++;
      if (item.line !== lastLine) {
        lines += item.line - lastLine;
        lastLine = item.line;
        if (items - reported >= 2_000) {
          reported = items;
          options.onProgress?.({ file, lines });
        }
      }
    }
    options.onProgress?.({ file, lines });
  }
  await pipeline.flush();
  return { files: files.length, items, ...pipeline.stats };
}
