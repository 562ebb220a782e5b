import { getJson } from '../api.ts';
import { card, failed, fmt, h, loading, panel, table } from '../ui.ts';
import type { ViewContext } from './context.ts';

interface Status {
  readings: {
    total: number;
    perSecond: number | null;
    partitions: { partition: number; highWatermark: number; throughOffset: number | null; lag: number | null; caughtUp: boolean }[];
  };
  speed: { generation: number; reachable: boolean; lag: number | null; caughtUp: boolean; freshnessMs: number | null };
  batch: { version: number; ageMs: number; createdAt: string } | null;
  deadLetters: { retained: number | null; counted: number | null; byReason: Record<string, number> };
}

const seconds = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : ms / 1000);

/** The operator's view of GET /v1/pipeline. */
export async function pipeline(ctx: ViewContext): Promise<void> {
  loading(ctx.main, 'pipeline status');
  try {
    const s = await getJson<Status>('v1/pipeline');
    ctx.main.replaceChildren(
      h(
        'div',
        { class: 'cards' },
        card('lag', `Speed lag (generation ${s.speed.generation}${s.speed.caughtUp ? ', caught up' : ''})`, s.speed.lag, 'readings', 0),
        card('rate', 'Readings/s', s.readings.perSecond, '/s', 1),
        card('freshness', 'Freshness', seconds(s.speed.freshnessMs), 's', 1),
        card(
          'batch',
          s.batch === null ? 'Batch version: none yet' : `Batch version ${s.batch.version} age`,
          seconds(s.batch?.ageMs),
          's',
          0,
        ),
        card('dead', 'Dead letters', s.deadLetters.retained, '', 0),
      ),
      panel(
        'Readings topic',
        table(
          s.readings.partitions,
          [
            { title: 'partition', cell: (p) => String(p.partition) },
            { title: 'high watermark', num: true, cell: (p) => String(p.highWatermark) },
            { title: 'speed through', num: true, cell: (p) => (p.throughOffset === null ? '—' : String(p.throughOffset)) },
            { title: 'lag', num: true, cell: (p) => fmt(p.lag, 0) },
            { title: 'caught up', cell: (p) => (p.caughtUp ? 'yes' : 'no') },
          ],
          'partitions',
        ),
      ),
      panel(
        'Dead letters by reason',
        table(
          Object.entries(s.deadLetters.byReason),
          [
            { title: 'reason', cell: ([r]) => r },
            { title: 'count', num: true, cell: ([, n]) => String(n) },
          ],
          'dead-letters',
        ),
      ),
    );
  } catch (err) {
    failed(ctx.main, err);
  }
}
