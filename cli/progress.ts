import cliProgress from 'cli-progress';
import type { Logger } from '../core/logger.ts';

export interface Progress {
  update(done: number, extra?: string): void;
  stop(): void;
}

/**
 * Progress for long work: a bar with rate and ETA on a terminal; on a pipe or in CI, a structured
 * log line every few seconds with the same figures.
 */
export function createProgress(title: string, total: number, unit: string, log: Logger): Progress {
  const started = Date.now();
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${title} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted} {extra}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: 0, extra: '' });
    return {
      update(done, extra = '') {
        const seconds = (Date.now() - started) / 1000;
        bar.update(done, { rate: seconds > 0 ? Math.round(done / seconds) : 0, extra });
      },
      stop: () => bar.stop(),
    };
  }
  let lastLog = 0;
  return {
    update(done, extra) {
      const now = Date.now();
      if (now - lastLog < 5_000) return;
      lastLog = now;
      const rate = done / Math.max(0.001, (now - started) / 1000);
      const etaSeconds = rate > 0 ? Math.round((total - done) / rate) : undefined;
      log.info({ done, total, unit, rate: Math.round(rate), etaSeconds, extra }, `${title}: ${done}/${total} ${unit}`);
    },
    stop() {},
  };
}
