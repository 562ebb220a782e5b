import type { SourceItem } from '../sources/index.ts';

/**
 * Interleaves several files' items in reading-time order (each file is in time order on its own),
 * so that a paced replay of many meters moves through history for all of them at once instead of
 * one meter after another. A reject has no time: it is passed on as soon as it is read.
 * A linear scan of the heads is enough for the ~100 files of a data set.
 */
export async function* mergeByTime(sources: AsyncIterator<SourceItem>[]): AsyncGenerator<SourceItem> {
  const heads: (SourceItem | undefined)[] = await Promise.all(sources.map(async (s) => (await s.next()).value as SourceItem | undefined));
  for (;;) {
    let pick = -1;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h === undefined) continue;
      const t = h.reading ? h.reading.intervalStart : Number.NEGATIVE_INFINITY;
      if (pick === -1 || t < best) {
        pick = i;
        best = t;
      }
    }
    if (pick === -1) return;
    yield heads[pick] as SourceItem;
    const next = await (sources[pick] as AsyncIterator<SourceItem>).next();
    heads[pick] = next.done ? undefined : next.value;
  }
}
