import type { Logger } from '../../core/logger.ts';
import type { Meter } from '../../schemas/reading.ts';

export interface RegistryRefresh {
  /** Re-reads the registry now; resolves with the number of meters. */
  refresh(): Promise<number>;
  stop(): void;
}

/**
 * Keeps `meters` — the very Map the validation context reads — in step with the registry, so
 * meters imported while the server runs are accepted within `everyMs`. The Map is updated in place
 * (set new, delete gone), never cleared, so a lookup during a refresh never sees an empty registry.
 * A failed refresh keeps the previous registry and is retried at the next tick.
 */
export function startRegistryRefresh(
  load: () => Promise<Map<string, Meter>>,
  meters: Map<string, Meter>,
  everyMs: number,
  log: Logger,
): RegistryRefresh {
  let running: Promise<number> | undefined;
  const refresh = (): Promise<number> => {
    running ??= load()
      .then((fresh) => {
        for (const [id, meter] of fresh) meters.set(id, meter);
        for (const id of meters.keys()) if (!fresh.has(id)) meters.delete(id);
        return meters.size;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => log.warn({ err }, 'meter registry refresh failed; keeping the previous registry'));
  }, everyMs);
  timer.unref();
  return { refresh, stop: () => clearInterval(timer) };
}
