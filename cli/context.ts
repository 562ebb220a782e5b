import type { Command } from 'commander';
import { type Config, loadConfig } from '../core/config.ts';
import { createLogger, type Logger } from '../core/logger.ts';

export interface CommandContext {
  config: Config;
  log: Logger;
}

/** Loads and validates the configuration once per command, from `--config` and the environment. */
export function contextFor(command: Command): CommandContext {
  const root = command.optsWithGlobals() as { config?: string; logLevel?: string };
  const config = loadConfig({
    ...(root.config ? { file: root.config } : {}),
    ...(root.logLevel ? { overrides: { log: { level: root.logLevel } } } : {}),
  });
  return { config, log: createLogger('meterflow', config.log.level) };
}
