import { keys, series } from '../api.ts';
import { drawChart } from '../charts.ts';
import { dayRange, hourLabel, iso } from '../time.ts';
import { card, empty, failed, h, loading, panel } from '../ui.ts';
import type { ViewContext } from './context.ts';

const escapeKey = (v: string) => v.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('=', '\\=');

/** One meter: 15-minute series of the day, daily bars of the month, monthly bars of the year, coverage and quality. */
export async function meter(ctx: ViewContext): Promise<void> {
  const { from, to } = dayRange(ctx.day, ctx.tz);
  const picker = h('select', { id: 'meter-pick', 'aria-label': 'meter' });
  const body = h('div', {});
  ctx.main.replaceChildren(h('label', {}, 'Meter ', picker), body);
  loading(body, 'meters');
  try {
    const all = await keys('meter_15m', { from: iso(from), to: iso(to), grain: 'hour', measures: 'importKwh' });
    if (all.rows.length === 0) return empty(body, 'No meters in the registry.');
    const chosen = ctx.params.get('meter') ?? all.rows[0]?.dimensions.meter ?? '';
    picker.append(
      ...all.rows.map((r) =>
        h(
          'option',
          r.dimensions.meter === chosen ? { value: r.dimensions.meter ?? '', selected: '' } : { value: r.dimensions.meter ?? '' },
          r.dimensions.meter ?? '',
        ),
      ),
    );
    picker.addEventListener('change', () => {
      location.hash = `#/meter?meter=${encodeURIComponent(picker.value)}`;
    });
    const key = `meter=${escapeKey(chosen)}`;
    const [y, m] = ctx.day.split('-').map(Number) as [number, number];
    const monthFrom = `${y}-${String(m).padStart(2, '0')}-01`;
    const monthTo = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
    const [intervals, days, months, quality] = await Promise.all([
      series('meter_15m', { key, from: iso(from), to: iso(to), measures: 'importKwh,exportKwh' }),
      series('meter_15m', { key, from: monthFrom, to: monthTo, grain: 'local-day', measures: 'importKwh,exportKwh' }),
      series('meter_15m', { key, from: `${y}-01-01`, to: `${y + 1}-01-01`, grain: 'local-month', measures: 'importKwh,exportKwh' }),
      keys('meter_15m', {
        from: iso(from),
        to: iso(to),
        measures: 'coverage,readingCount,expectedCount,flaggedCount',
        parent: `meter=${chosen}`,
      }),
    ]);
    const q = quality.rows[0]?.values ?? {};
    const chart = (i: number) => h('div', { class: 'chart', 'data-testid': `meter-chart-${i}` });
    const [c1, c2, c3] = [chart(0), chart(1), chart(2)];
    body.replaceChildren(
      h(
        'div',
        { class: 'cards' },
        card('coverage', 'Coverage', q.coverage === null || q.coverage === undefined ? null : q.coverage * 100, '%', 1),
        card('readings', 'Readings', q.readingCount ?? null, `of ${q.expectedCount ?? '—'}`, 0),
        card('flagged', 'Flagged (estimated/suspect)', q.flaggedCount ?? null, '', 0),
      ),
      panel(`Intervals on ${ctx.day}`, c1),
      h('div', { class: 'row' }, panel(`Days of ${monthFrom.slice(0, 7)}`, c2), panel(`Months of ${y}`, c3)),
    );
    if (intervals.buckets.length === 0) empty(c1, 'No readings this day.');
    else
      drawChart(c1, [
        {
          name: 'consumption',
          type: 'line',
          points: intervals.buckets.map((b) => [hourLabel(Date.parse(b.bucket), ctx.tz), b.values.importKwh ?? null]),
        },
        {
          name: 'generation',
          type: 'line',
          points: intervals.buckets.map((b) => [hourLabel(Date.parse(b.bucket), ctx.tz), b.values.exportKwh ?? null]),
        },
      ]);
    drawChart(c2, [
      { name: 'consumption', type: 'bar', points: days.buckets.map((b) => [b.bucket.slice(8, 10), b.values.importKwh ?? null]) },
    ]);
    drawChart(c3, [
      { name: 'consumption', type: 'bar', points: months.buckets.map((b) => [b.bucket.slice(0, 7), b.values.importKwh ?? null]) },
    ]);
  } catch (err) {
    failed(body, err);
  }
}
