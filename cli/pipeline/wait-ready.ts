import { MeterflowError } from '../../core/errors.ts';

/** Polls GET <url>/ready until it answers 200 (the API reaches Kafka and Cassandra), or fails after the timeout. */
export async function waitApiReady(url: string, timeoutMs: number, stillWorth: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline && stillWorth()) {
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new MeterflowError(
    'MF_PIPELINE_NOT_READY',
    `the API at ${url} did not become ready within ${timeoutMs} ms (pipeline.readyTimeoutMs): ${last}`,
    {
      details: { url, last },
    },
  );
}
