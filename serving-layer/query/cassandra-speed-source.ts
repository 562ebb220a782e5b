import { type CassandraClient, toNumber } from '../../core/cassandra.ts';
import type { GrainId, MeasureStates } from '../../schemas/views/index.ts';
import { periodsBetween, SpeedStore } from '../../speed-layer/store/speed-store.ts';

import { FreshReads } from './fresh-reads.ts';
import type { SpeedCheckpointInfo, SpeedSource } from './sources.ts';

const READ_CONCURRENCY = 8;

/**
 * The speed layer's Cassandra tables (migration 0003), read-only: rows through SpeedStore, and the
 * checkpoints with their `updated_at` (which SpeedStore does not return), for freshness.
 */
export class CassandraSpeedSource implements SpeedSource {
  private readonly store: SpeedStore;
  /** Every query reads the checkpoints first; concurrent queries share reads (fresh-reads.ts). */
  private readonly checkpointReads: FreshReads<SpeedCheckpointInfo[]>;

  /**
   * @param checkpointMaxAgeMs how old (from when its read began) a checkpoint read may be and still
   * answer a query (serving.cache.checkpointMaxAgeMs). 0: every query waits for a read that began
   * after it arrived. More: under load, most queries need no Cassandra round trip at all, and an
   * answer may miss at most that much of the speed layer's progress (its provenance says exactly
   * which offsets it holds, so it is never wrong, only that much older).
   */
  constructor(
    private readonly client: CassandraClient,
    checkpointMaxAgeMs = 0,
  ) {
    this.store = new SpeedStore(client, { writeConcurrency: 1, rowTtlSeconds: 0 });
    this.checkpointReads = new FreshReads({ maxAgeMs: checkpointMaxAgeMs });
  }

  checkpoints(generation: number): Promise<SpeedCheckpointInfo[]> {
    return this.checkpointReads.read(String(generation), () => this.readCheckpoints(generation));
  }

  private async readCheckpoints(generation: number): Promise<SpeedCheckpointInfo[]> {
    const rs = await this.client.execute(
      'SELECT kafka_partition, through_offset, caught_up, updated_at FROM speed_checkpoints WHERE generation = ?',
      [generation],
      { prepare: true },
    );
    return rs.rows.map((row) => ({
      partition: row.get('kafka_partition') as number,
      throughOffset: toNumber(row.get('through_offset')),
      caughtUp: Boolean(row.get('caught_up')),
      updatedAt: (row.get('updated_at') as Date | null)?.getTime() ?? null,
    }));
  }

  /** One SpeedStore read per Cassandra partition period, at most READ_CONCURRENCY at a time. */
  async readRows(
    view: string,
    generation: number,
    key: string,
    grain: GrainId,
    from: number,
    to: number,
  ): Promise<{ bucket: number; partition: number; states: MeasureStates }[]> {
    const periods = periodsBetween(grain, from, to);
    const ranges = periods.map((p, i) => [Math.max(from, p), Math.min(to, periods[i + 1] ?? to)] as const);
    const pieces: { bucket: number; partition: number; states: MeasureStates }[][] = new Array(ranges.length);
    let next = 0;
    const worker = async () => {
      while (next < ranges.length) {
        const i = next++;
        const [a, b] = ranges[i] as readonly [number, number];
        pieces[i] = await this.store.readRows(view, generation, key, grain, a, b);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, ranges.length) }, worker));
    return pieces.flat();
  }
}
