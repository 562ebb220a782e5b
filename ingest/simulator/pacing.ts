import { MeterflowError } from '../../core/errors.ts';

/**
 * How long to wait before sending a reading, so a replay can run in real time, sped up, or as fast
 * as possible. Kept apart from generation so the generator stays pure and testable.
 */
export type PacingMode = { mode: 'as-fast-as-possible' } | { mode: 'real-time' } | { mode: 'speed-up'; factor: number };

export interface Pacer {
  /** Milliseconds to wait (≥ 0) before sending a reading whose interval ends at `readingTime`, given the wall clock. */
  delayMs(readingTime: number, wallNow: number): number;
}

/** `simStart` (reading time) is mapped to `wallStart` (wall clock); later readings keep their spacing divided by the factor. */
export function createPacer(pacing: PacingMode, simStart: number, wallStart: number): Pacer {
  if (pacing.mode === 'as-fast-as-possible') return { delayMs: () => 0 };
  const factor = pacing.mode === 'real-time' ? 1 : pacing.factor;
  if (!(factor > 0)) throw new MeterflowError('MF_CONFIG_INVALID', `speed-up factor ${factor} must be positive`);
  return {
    delayMs: (readingTime, wallNow) => Math.max(0, wallStart + (readingTime - simStart) / factor - wallNow),
  };
}

/** Waits `ms`, or less when the signal aborts (a paced run must stop at once on SIGTERM). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
