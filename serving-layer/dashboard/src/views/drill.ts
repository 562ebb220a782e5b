import { keys, series, type TotalsRow, top } from '../api.ts';
import { drawChart } from '../charts.ts';
import { dayRange, hourLabel, iso } from '../time.ts';
import { type Column, card, failed, fmt, h, link, loading, panel, table } from '../ui.ts';
import type { ViewContext } from './context.ts';

const MEASURES = 'importKwh,exportKwh,costCents';

const totalsColumns = (name: string, hash: (r: TotalsRow) => string | null): Column<TotalsRow>[] => [
  {
    title: name,
    cell: (r) => {
      const label = Object.values(r.dimensions).join(' ');
      const to = hash(r);
      return to === null ? label : link(label, to);
    },
  },
  { title: 'meters', num: true, cell: (r) => String(r.meters) },
  { title: 'consumption kWh', num: true, cell: (r) => fmt(r.values.importKwh) },
  { title: 'generation kWh', num: true, cell: (r) => fmt(r.values.exportKwh) },
  {
    title: 'cost £',
    num: true,
    cell: (r) => fmt(r.values.costCents === null || r.values.costCents === undefined ? null : r.values.costCents / 100),
  },
];

/** Regions → sites of a region → meters of a site, each with totals of the day, top consumers and a chart. */
export async function drill(ctx: ViewContext): Promise<void> {
  const { from, to } = dayRange(ctx.day, ctx.tz);
  const range = { from: iso(from), to: iso(to), grain: 'hour' };
  const region = ctx.params.get('region');
  const site = ctx.params.get('site');
  loading(ctx.main, 'totals');
  try {
    if (region === null && site === null) {
      const regions = await keys('region_hourly', { ...range, measures: MEASURES });
      ctx.main.replaceChildren(
        panel(
          `Regions on ${ctx.day}`,
          table(
            regions.rows,
            totalsColumns('region', (r) => `#/drill?region=${encodeURIComponent(r.dimensions.region ?? '')}`),
            'regions',
          ),
        ),
      );
      return;
    }
    const [view, dim, value] = region !== null ? ['region_hourly', 'region', region] : ['site_hourly', 'site', site as string];
    const key = `${dim}=${value.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('=', '\\=')}`;
    const parent = `${dim}=${value}`;
    const [totals, children, consumers, hourly] = await Promise.all([
      keys(view, { ...range, measures: MEASURES, parent }),
      dim === 'region'
        ? keys('site_hourly', { ...range, measures: MEASURES, parent })
        : keys('meter_15m', { ...range, measures: MEASURES, parent }),
      top('meter_15m', { ...range, by: 'importKwh', limit: 10, measures: MEASURES, parent }),
      series(view, { ...range, key, measures: 'importKwh,exportKwh' }),
    ]);
    const t = totals.rows[0]?.values ?? {};
    const chart = h('div', { class: 'chart', 'data-testid': 'drill-chart' });
    ctx.main.replaceChildren(
      h('p', {}, link('← all regions', '#/drill')),
      h('h2', {}, `${dim} ${value}`),
      h(
        'div',
        { class: 'cards' },
        card('drill-consumption', 'Consumption', t.importKwh ?? null, 'kWh'),
        card('drill-generation', 'Generation', t.exportKwh ?? null, 'kWh'),
        card('drill-cost', 'Cost', t.costCents === null || t.costCents === undefined ? null : t.costCents / 100, '£'),
      ),
      panel('Consumption vs generation by hour', chart),
      h(
        'div',
        { class: 'row' },
        panel(
          dim === 'region' ? 'Sites' : 'Meters',
          table(
            children.rows,
            totalsColumns(dim === 'region' ? 'site' : 'meter', (r) =>
              dim === 'region'
                ? `#/drill?site=${encodeURIComponent(r.dimensions.site ?? '')}`
                : `#/meter?meter=${encodeURIComponent(r.dimensions.meter ?? '')}`,
            ),
            'children',
          ),
        ),
        panel(
          'Top consumers',
          table(
            consumers.rows,
            totalsColumns('meter', (r) => `#/meter?meter=${encodeURIComponent(r.dimensions.meter ?? '')}`),
            'top-consumers',
          ),
        ),
      ),
    );
    drawChart(chart, [
      {
        name: 'consumption',
        type: 'line',
        points: hourly.buckets.map((b) => [hourLabel(Date.parse(b.bucket), ctx.tz), b.values.importKwh ?? null]),
      },
      {
        name: 'generation',
        type: 'line',
        points: hourly.buckets.map((b) => [hourLabel(Date.parse(b.bucket), ctx.tz), b.values.exportKwh ?? null]),
      },
    ]);
  } catch (err) {
    failed(ctx.main, err);
  }
}
