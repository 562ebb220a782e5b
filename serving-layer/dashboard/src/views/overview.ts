import { keys, type SeriesAnswer, series, top } from '../api.ts';
import { drawChart } from '../charts.ts';
import { dayRange, hourLabel, iso } from '../time.ts';
import { card, empty, failed, h, loading, panel } from '../ui.ts';
import type { ViewContext } from './context.ts';

const HEATMAP_METERS = 50;
const HOUR = 3_600_000;

/** Fleet overview: totals of the day, the meters × hour heatmap, consumption vs generation by hour. */
export async function overview(ctx: ViewContext): Promise<void> {
  const { from, to } = dayRange(ctx.day, ctx.tz);
  const range = { from: iso(from), to: iso(to), grain: 'hour' };
  const cards = h('div', { class: 'cards' });
  const heat = h('div', {});
  const chart = h('div', { class: 'chart', 'data-testid': 'fleet-chart' });
  ctx.main.replaceChildren(cards, panel('Consumption heatmap: meters × hour of day (kWh)', heat), panel('Fleet by hour', chart));
  loading(cards, 'fleet totals');
  loading(heat, 'heatmap');
  try {
    const [fleet, meters, hourly] = await Promise.all([
      keys('fleet_hourly', { ...range, measures: 'importKwh,exportKwh,costCents' }),
      keys('meter_15m', { ...range, measures: 'importKwh' }),
      series('fleet_hourly', { ...range, measures: 'importKwh,exportKwh' }),
    ]);
    const total = fleet.rows[0]?.values ?? {};
    const last = hourly.buckets.at(-1);
    cards.replaceChildren(
      card('meters', 'Meters', meters.rows.length, '', 0),
      // kWh in the newest hour with data = its average power in kW.
      card(
        'power',
        `Power (${last === undefined ? 'no data' : hourLabel(Date.parse(last.bucket), ctx.tz)})`,
        last?.values.importKwh ?? null,
        'kW',
      ),
      card('consumption', 'Consumption', total.importKwh ?? null, 'kWh'),
      card('generation', 'Generation', total.exportKwh ?? null, 'kWh'),
      card('cost', 'Cost', total.costCents === null || total.costCents === undefined ? null : total.costCents / 100, '£'),
    );
    if (hourly.buckets.length === 0) {
      empty(heat, `No readings on ${ctx.day} (${ctx.tz}). Pick another day above.`);
      empty(chart, 'No data.');
      return;
    }
    drawChart(chart, [
      {
        name: 'consumption',
        type: 'bar',
        points: hourly.buckets.map((b) => [hourLabel(Date.parse(b.bucket), ctx.tz), b.values.importKwh ?? null]),
      },
      {
        name: 'generation',
        type: 'bar',
        points: hourly.buckets.map((b) => [hourLabel(Date.parse(b.bucket), ctx.tz), b.values.exportKwh ?? null]),
      },
    ]);
    const busiest = await top('meter_15m', { ...range, by: 'importKwh', limit: HEATMAP_METERS, measures: 'importKwh' });
    const perMeter = await Promise.all(busiest.rows.map((r) => series('meter_15m', { ...range, key: r.key, measures: 'importKwh' })));
    heat.replaceChildren(
      heatmap(
        busiest.rows.map((r, i) => [r.dimensions.meter ?? r.key, perMeter[i] as SeriesAnswer]),
        from,
        to,
        ctx.tz,
      ),
    );
  } catch (err) {
    failed(cards, err);
    heat.replaceChildren();
  }
}

function heatmap(rows: [string, SeriesAnswer][], from: number, to: number, tz: string): HTMLElement {
  const hours: number[] = [];
  for (let t = from; t < to; t += HOUR) hours.push(t);
  let max = 0;
  for (const [, s] of rows) for (const b of s.buckets) max = Math.max(max, b.values.importKwh ?? 0);
  const grid = h('div', { class: 'heatmap', 'data-testid': 'heatmap', style: `grid-template-columns: 9rem repeat(${hours.length}, 1fr)` });
  grid.append(h('div', {}), ...hours.map((t) => h('div', {}, hourLabel(t, tz).slice(0, 2))));
  for (const [meter, s] of rows) {
    const byHour = new Map(s.buckets.map((b) => [Date.parse(b.bucket), b.values.importKwh ?? null]));
    grid.append(h('div', { class: 'rowlabel', title: meter }, meter));
    for (const t of hours) {
      const v = byHour.get(t) ?? null;
      const level = v === null || max === 0 ? 0 : v / max;
      const attrs: Record<string, string> = {
        class: v === null ? 'cell empty' : 'cell',
        'data-meter': meter,
        'data-hour': iso(t),
        'data-value': v === null ? '' : String(v),
        title: `${meter} ${hourLabel(t, tz)}: ${v === null ? 'no data' : `${v.toFixed(3)} kWh`}`,
      };
      if (v !== null) attrs.style = `background: hsl(${210 - 210 * level}, 75%, ${88 - 45 * level}%)`;
      grid.append(h('div', attrs));
    }
  }
  return grid;
}
