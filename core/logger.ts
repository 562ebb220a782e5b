import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino) on stderr, so that stdout stays free for command output
 * (tables, CSV, JSON) that users pipe into other tools.
 */
export function createLogger(name: string, level: string = process.env.METERFLOW_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level }, pino.destination(2));
}
