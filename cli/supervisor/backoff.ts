/**
 * When to restart a crashed component, and when to give up. Pure functions of the restart history,
 * so the policy is unit-tested without waiting for real crashes.
 */
export interface RestartPolicy {
  /** Delay before the first restart; doubled for each further crash in a row. */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** More than this many restarts within `crashLoopWindowMs` is a crash loop: the component is given up. */
  crashLoopRestarts: number;
  crashLoopWindowMs: number;
  /** After SIGTERM, how long a component may take to stop before SIGKILL. */
  stopTimeoutMs: number;
}

/** Exponential backoff: min, 2·min, 4·min, … capped at max. `crashesInRow` counts from 1. */
export function backoffDelay(crashesInRow: number, policy: Pick<RestartPolicy, 'minBackoffMs' | 'maxBackoffMs'>): number {
  const exponent = Math.min(Math.max(crashesInRow - 1, 0), 30);
  return Math.min(policy.maxBackoffMs, policy.minBackoffMs * 2 ** exponent);
}

/**
 * Remembers crash times; `crashed(now)` records one and says whether the component is in a crash
 * loop (more than `crashLoopRestarts` crashes within the window) and how many crashes came in a
 * row (a component that ran longer than the window since its last crash starts over at 1).
 */
export class CrashHistory {
  private readonly times: number[] = [];
  private inRow = 0;

  constructor(private readonly policy: Pick<RestartPolicy, 'crashLoopRestarts' | 'crashLoopWindowMs'>) {}

  crashed(now: number, ranMs: number): { crashLoop: boolean; crashesInRow: number } {
    this.inRow = ranMs > this.policy.crashLoopWindowMs ? 1 : this.inRow + 1;
    this.times.push(now);
    while (this.times.length > 0 && (this.times[0] ?? now) <= now - this.policy.crashLoopWindowMs) this.times.shift();
    return { crashLoop: this.times.length > this.policy.crashLoopRestarts, crashesInRow: this.inRow };
  }
}
