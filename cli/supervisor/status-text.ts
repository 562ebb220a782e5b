import type { ComponentStatus } from './supervisor.ts';

/** One line per component: name, state, pid, restarts, log file. */
export function statusTable(components: ComponentStatus[]): string {
  return components
    .map((c) => {
      const pid = c.pid === undefined ? '-' : String(c.pid);
      const exit = c.lastExit ? `  last exit: ${c.lastExit.signal ?? `code ${c.lastExit.code}`} at ${c.lastExit.at}` : '';
      return `${c.name.padEnd(10)} ${c.state.padEnd(8)} pid ${pid.padEnd(8)} restarts ${String(c.restarts).padEnd(3)} logs: ${c.logFile}${exit}\n`;
    })
    .join('');
}

const STATES = ['running', 'backoff', 'done', 'failed', 'stopping', 'stopped'] as const;

/** The Prometheus text exposition format, so a node exporter textfile collector or a scrape can read it. */
export function statusPrometheus(components: ComponentStatus[], supervisorUp: boolean): string {
  const lines = [
    '# HELP meterflow_pipeline_up 1 while the `meterflow up` supervisor runs.',
    '# TYPE meterflow_pipeline_up gauge',
    `meterflow_pipeline_up ${supervisorUp ? 1 : 0}`,
    '# HELP meterflow_component_up 1 while the component has a running process.',
    '# TYPE meterflow_component_up gauge',
    ...components.map((c) => `meterflow_component_up{component="${c.name}"} ${c.pid === undefined ? 0 : 1}`),
    '# HELP meterflow_component_restarts_total Restarts of the component after a crash.',
    '# TYPE meterflow_component_restarts_total counter',
    ...components.map((c) => `meterflow_component_restarts_total{component="${c.name}"} ${c.restarts}`),
    '# HELP meterflow_component_state 1 for the state the component is in.',
    '# TYPE meterflow_component_state gauge',
    ...components.flatMap((c) =>
      STATES.map((s) => `meterflow_component_state{component="${c.name}",state="${s}"} ${c.state === s ? 1 : 0}`),
    ),
  ];
  return `${lines.join('\n')}\n`;
}
