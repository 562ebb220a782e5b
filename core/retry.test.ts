import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { retryUntil } from './retry.ts';

const log = createLogger('test', 'silent');

describe('retryUntil', () => {
  it('retries until the step succeeds and returns its value', async () => {
    let calls = 0;
    const value = await retryUntil(
      'flaky step',
      async () => {
        calls++;
        if (calls < 3) throw new Error(`not yet (${calls})`);
        return 'ok';
      },
      { log, timeoutMs: 5_000, minDelayMs: 10 },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
  });

  it('rethrows the last error once the time is up', async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      retryUntil(
        'dead step',
        async () => {
          calls++;
          throw new Error(`down (${calls})`);
        },
        { log, timeoutMs: 200, minDelayMs: 20, maxDelayMs: 40 },
      ),
    ).rejects.toThrow(/^down \(\d+\)$/);
    expect(calls).toBeGreaterThan(2);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
