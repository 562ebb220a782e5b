import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, SVGRenderer]);

export interface Series {
  name: string;
  type: 'line' | 'bar';
  points: [string, number | null][];
}

/** One chart in `el` (replacing what was there); categories on x, kWh on y. */
export function drawChart(el: HTMLElement, series: Series[], yName = 'kWh'): void {
  echarts.getInstanceByDom(el)?.dispose();
  const chart = echarts.init(el, undefined, { renderer: 'svg' });
  chart.setOption({
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 50, right: 10, top: 30, bottom: 30 },
    xAxis: { type: 'category', data: series[0]?.points.map((p) => p[0]) ?? [] },
    yAxis: { type: 'value', name: yName },
    series: series.map((s) => ({ name: s.name, type: s.type, data: s.points.map((p) => p[1]), showSymbol: false })),
  });
  new ResizeObserver(() => chart.resize()).observe(el);
}
