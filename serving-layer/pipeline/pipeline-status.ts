import type { QuerySources } from '../query/sources.ts';

/** Readings-topic high watermarks per partition (the admin client's fetchTopicOffsets). */
export type OffsetsReader = (topic: string) => Promise<{ partition: number; high: number; low: number }[]>;

export interface PipelineStatusDeps {
  sources: QuerySources;
  offsets: OffsetsReader;
  topics: { readings: string; deadLetters: string };
  /** Dead letters counted by reason by the feed (null: no feed). */
  deadLetters: (() => { total: number; byReason: Record<string, number> }) | null;
  now?: () => number;
}

/** At most this old a sample is kept for the readings/s rate. */
const RATE_WINDOW_MS = 60_000;

/**
 * What an operator wants on one screen: how far the log is, how far the speed layer is behind
 * it, how fast readings arrive, how fresh the served data is, which batch version is served and
 * how old it is, and the dead letters. Readings/s comes from successive samples of the topic's
 * total high watermark (each status call and the periodic `sample()` add one).
 */
export class PipelineStatus {
  private readonly samples: { at: number; total: number }[] = [];

  constructor(private readonly deps: PipelineStatusDeps) {}

  async sample(): Promise<void> {
    const parts = await this.deps.offsets(this.deps.topics.readings);
    this.record(parts.reduce((s, p) => s + p.high, 0));
  }

  async status() {
    const now = (this.deps.now ?? Date.now)();
    const { sources, topics } = this.deps;
    const [readings, dead, versions] = await Promise.all([
      this.deps.offsets(topics.readings),
      this.deps.offsets(topics.deadLetters).catch(() => null),
      sources.batch.versions(),
    ]);
    const current = versions[0] ?? null;
    const generation = current?.version ?? 0;
    const checkpoints = await sources.speed.checkpoints(generation).catch(() => null);
    const total = readings.reduce((s, p) => s + p.high, 0);
    const rate = this.record(total);
    const partitions = readings
      .sort((a, b) => a.partition - b.partition)
      .map((p) => {
        const c = checkpoints?.find((x) => x.partition === p.partition);
        return {
          partition: p.partition,
          highWatermark: p.high,
          throughOffset: c?.throughOffset ?? null,
          // The next offset to read is throughOffset + 1; everything from there to high − 1 is lag.
          lag: c === undefined ? null : Math.max(0, p.high - c.throughOffset - 1),
          caughtUp: c?.caughtUp ?? false,
          checkpointAt: c?.updatedAt == null ? null : new Date(c.updatedAt).toISOString(),
        };
      });
    const newestCheckpoint = Math.max(...(checkpoints ?? []).map((c) => c.updatedAt ?? 0), 0);
    const dl = this.deps.deadLetters?.() ?? null;
    return {
      now: new Date(now).toISOString(),
      readings: { topic: topics.readings, total, perSecond: rate, partitions },
      speed: {
        generation,
        reachable: checkpoints !== null,
        lag: partitions.every((p) => p.lag !== null) ? partitions.reduce((s, p) => s + (p.lag ?? 0), 0) : null,
        caughtUp: partitions.every((p) => p.caughtUp),
        lastCheckpointAt: newestCheckpoint === 0 ? null : new Date(newestCheckpoint).toISOString(),
        freshnessMs: newestCheckpoint === 0 ? null : Math.max(0, now - newestCheckpoint),
      },
      batch:
        current === null
          ? null
          : {
              version: current.version,
              createdAt: current.createdAt,
              ageMs: Math.max(0, now - Date.parse(current.createdAt)),
              dataAsOf: current.dataAsOf,
              offsets: Object.fromEntries(Object.entries(current.offsets).map(([p, o]) => [String(p), o])),
            },
      deadLetters: {
        topic: topics.deadLetters,
        // Retained messages (high − low): what the topic holds now, whatever the feed has read.
        retained: dead === null ? null : dead.reduce((s, p) => s + (p.high - p.low), 0),
        counted: dl?.total ?? null,
        byReason: dl?.byReason ?? {},
      },
    };
  }

  /** Adds a sample; returns readings/s over the oldest sample still in the window (null: too few). */
  private record(total: number): number | null {
    const now = (this.deps.now ?? Date.now)();
    this.samples.push({ at: now, total });
    while (this.samples.length > 2 && now - (this.samples[0]?.at ?? now) > RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    if (first === undefined || now - first.at < 1_000) return null;
    return (total - first.total) / ((now - first.at) / 1_000);
  }
}
