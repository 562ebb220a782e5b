import type { IngestPipeline, IngestStats } from '../pipeline/ingest-pipeline.ts';
import { createPacer, type PacingMode, sleep } from '../simulator/pacing.ts';
import type { CsvColumnMapping, SourceItem } from '../sources/index.ts';
import { mergeByTime } from './merge-by-time.ts';
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
  options: {
    mapping?: CsvColumnMapping;
    onProgress?: (p: ReplayProgress) => void;
    /** Default as fast as possible, file after file; otherwise every file at once in reading-time order, paced. */
    pacing?: PacingMode;
    signal?: AbortSignal;
  } = {},
): Promise<ReplayResult> {
  let items = 0;
  let lines = 0;
  let reported = 0;
  const lastLine = new Map<string, number>();
  const paced = options.pacing !== undefined && options.pacing.mode !== 'as-fast-as-possible';
  const groups: AsyncIterable<SourceItem>[] = paced
    ? [mergeByTime(files.map((f) => parseFile(f, format, options.mapping)))]
    : files.map((f) => parseFile(f, format, options.mapping));
  let pacer: ReturnType<typeof createPacer> | undefined;
  let file = '';
  for (const group of groups) {
    if (options.signal?.aborted) break;
    for await (const item of group) {
      file = item.file;
      if (options.signal?.aborted) break;
      if (paced && item.reading) {
        pacer ??= createPacer(options.pacing as PacingMode, item.reading.intervalStart, Date.now());
        const wait = pacer.delayMs(item.reading.intervalStart, Date.now());
        // Waits under 20 ms are left to add up: a timer per reading would cost more than the reading.
        if (wait > 20) await sleep(wait, options.signal);
        if (options.signal?.aborted) break;
      }
      if (!pipeline.hasRoom()) await pipeline.ready();
      const origin = { kind: 'file' as const, file: item.file, line: item.line };
      if (item.reading) pipeline.offer({ reading: item.reading, raw: item.raw, source: item.reading.source, origin });
      else pipeline.offer({ reject: item.reject, source: `replay:${format}:${item.file}`, origin });
      items++;
      const previous = lastLine.get(item.file) ?? 0;
      if (item.line !== previous) {
        lines += item.line - previous;
        lastLine.set(item.file, item.line);
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
