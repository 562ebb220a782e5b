import type { Config } from '../../core/config.ts';
import { createKafka } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { createProgress } from '../progress.ts';

/**
 * Progress of a replay that runs in another process, read where its output lands: the messages
 * added to the readings and dead-letter topics since it started (every replayed line ends up on
 * one of them), against the number of data lines in the files.
 */
export async function watchFeedProgress(config: Config, log: Logger, totalLines: number, signal: AbortSignal): Promise<void> {
  const admin = createKafka(config, log.child({}, { level: 'warn' })).admin();
  await admin.connect();
  const topics = [config.kafka.topics.readings.name, config.kafka.topics.deadLetters.name];
  const produced = async () => {
    let n = 0;
    for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) n += Number(o.high);
    return n;
  };
  const progress = createProgress('replay', totalLines, 'readings', log);
  try {
    const base = await produced();
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, 1_000));
      progress.update(Math.min(totalLines, (await produced()) - base));
    }
  } catch (err) {
    log.warn({ err }, 'replay progress unavailable');
  } finally {
    progress.stop();
    await admin.disconnect().catch(() => {});
  }
}
