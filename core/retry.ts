import type { Logger } from './logger.ts';

export interface RetryOptions {
  log: Logger;
  /** Give up (rethrowing the last error) after this long; 0: a single attempt. */
  timeoutMs: number;
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Runs `fn` until it succeeds or `timeoutMs` has passed, backing off exponentially and logging
 * each failure. For start-up steps of long-running processes: a service started while Cassandra
 * or Kafka is still starting (or restarting) waits for it instead of exiting.
 */
export async function retryUntil<T>(what: string, fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  let delay = o.minDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() + delay > deadline) throw err;
      o.log.warn({ err: (err as Error).message, attempt, retryInMs: delay }, `${what} failed; retrying`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(o.maxDelayMs ?? 5_000, delay * 2);
    }
  }
}
