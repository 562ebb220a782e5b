import cassandra from 'cassandra-driver';
import { type CassandraClient, toNumber } from '../../core/cassandra.ts';
import type { GrainId, MeasureStates } from '../../schemas/views/index.ts';
import { partitionPeriod } from '../../schemas/views/speed-period.ts';

/** Statements per single-partition batch (keeps a batch well under Cassandra's size warning). */
const MAX_BATCH = 48;

export interface SpeedRowWrite {
  view: string;
  grain: GrainId;
  key: string;
  bucket: number;
  states: MeasureStates;
  removed: boolean;
}

export interface SpeedCheckpoint {
  generation: number;
  partition: number;
  throughOffset: number;
  caughtUp: boolean;
}

/**
 * The speed layer's Cassandra tables (migration 0003). Every write of a row or checkpoint carries
 * `USING TIMESTAMP offset + 1`: Cassandra keeps the write with the highest timestamp, so a write
 * from a replay, a slow retry or a consumer that lost its partition never replaces a newer value.
 * That, with absolute values, is what makes a flush idempotent.
 */
export class SpeedStore {
  private readonly upsertRow: string;
  private readonly deleteRow =
    'DELETE FROM speed_partials WHERE view_name = ? AND generation = ? AND row_key = ? AND grain = ? AND period = ? AND bucket = ? AND kafka_partition = ?';

  constructor(
    private readonly client: CassandraClient,
    private readonly options: { writeConcurrency: number; rowTtlSeconds: number },
  ) {
    const ttl = Math.trunc(options.rowTtlSeconds) > 0 ? ` USING TTL ${Math.trunc(options.rowTtlSeconds)}` : '';
    this.upsertRow = `INSERT INTO speed_partials (view_name, generation, row_key, grain, period, bucket, kafka_partition, states, through_offset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)${ttl}`;
  }

  /**
   * Writes absolute partials of one Kafka partition as of `throughOffset`. Rows of one Cassandra
   * partition (a key's day of 15-minute buckets, say) go together in an unlogged single-partition
   * batch: one request, applied atomically and in isolation by the replica.
   */
  async writeRows(generation: number, partition: number, throughOffset: number, rows: readonly SpeedRowWrite[]): Promise<void> {
    const timestamp = cassandra.types.Long.fromNumber(throughOffset + 1);
    const groups = new Map<string, { query: string; params: unknown[] }[]>();
    for (const r of rows) {
      const period = partitionPeriod(r.grain, r.bucket);
      const id = `${r.view}\u0000${r.key}\u0000${r.grain}\u0000${period}`;
      let group = groups.get(id);
      if (group === undefined) {
        group = [];
        groups.set(id, group);
      }
      const bucket = new Date(r.bucket);
      group.push(
        r.removed
          ? { query: this.deleteRow, params: [r.view, generation, r.key, r.grain, new Date(period), bucket, partition] }
          : {
              query: this.upsertRow,
              params: [r.view, generation, r.key, r.grain, new Date(period), bucket, partition, JSON.stringify(r.states), throughOffset],
            },
      );
    }
    const requests: { query: string; params: unknown[] }[][] = [];
    for (const group of groups.values()) for (let i = 0; i < group.length; i += MAX_BATCH) requests.push(group.slice(i, i + MAX_BATCH));
    await runConcurrently(requests, this.options.writeConcurrency, (batch) =>
      batch.length === 1
        ? this.client.execute((batch[0] as { query: string }).query, (batch[0] as { params: unknown[] }).params, {
            prepare: true,
            timestamp,
          })
        : this.client.batch(batch, { prepare: true, logged: false, timestamp }),
    );
  }

  async writeCheckpoint(c: SpeedCheckpoint): Promise<void> {
    await this.client.execute(
      'INSERT INTO speed_checkpoints (generation, kafka_partition, through_offset, caught_up, updated_at) VALUES (?, ?, ?, ?, ?)',
      [c.generation, c.partition, c.throughOffset, c.caughtUp, new Date()],
      // +2: the empty partition's checkpoint (offset -1) still needs a positive timestamp; a later
      // offset always has a higher one, so an older checkpoint never replaces a newer.
      { prepare: true, timestamp: cassandra.types.Long.fromNumber(c.throughOffset + 2) },
    );
  }

  async checkpoints(generation: number): Promise<SpeedCheckpoint[]> {
    const rs = await this.client.execute(
      'SELECT kafka_partition, through_offset, caught_up FROM speed_checkpoints WHERE generation = ?',
      [generation],
      {
        prepare: true,
      },
    );
    return rs.rows.map((row) => ({
      generation,
      partition: row.get('kafka_partition') as number,
      throughOffset: toNumber(row.get('through_offset')),
      caughtUp: Boolean(row.get('caught_up')),
    }));
  }

  /** Rows of one view row key at one grain over [from, to), every Kafka partition's piece. */
  async readRows(
    view: string,
    generation: number,
    key: string,
    grain: GrainId,
    from: number,
    to: number,
  ): Promise<{ bucket: number; partition: number; states: MeasureStates; throughOffset: number }[]> {
    const out: { bucket: number; partition: number; states: MeasureStates; throughOffset: number }[] = [];
    for (const period of periodsBetween(grain, from, to)) {
      const rs = await this.client.execute(
        'SELECT bucket, kafka_partition, states, through_offset FROM speed_partials WHERE view_name = ? AND generation = ? AND row_key = ? AND grain = ? AND period = ? AND bucket >= ? AND bucket < ?',
        [view, generation, key, grain, new Date(period), new Date(from), new Date(to)],
        { prepare: true, fetchSize: 10_000 },
      );
      for (const row of rs.rows) {
        out.push({
          bucket: (row.get('bucket') as Date).getTime(),
          partition: row.get('kafka_partition') as number,
          states: JSON.parse(row.get('states') as string) as MeasureStates,
          throughOffset: toNumber(row.get('through_offset')),
        });
      }
    }
    return out;
  }
}

/** The partition periods a [from, to) bucket range spans. */
export function periodsBetween(grain: GrainId, from: number, to: number): number[] {
  const periods: number[] = [];
  let p = partitionPeriod(grain, from);
  while (p < to) {
    periods.push(p);
    const next = nextPeriod(grain, p);
    if (next <= p) break;
    p = next;
  }
  return periods;
}

function nextPeriod(grain: GrainId, period: number): number {
  const d = new Date(period);
  if (grain === '15m' || grain === 'hour') return period + 86_400_000;
  if (grain === 'day' || grain === 'local-day') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return Date.UTC(d.getUTCFullYear() + 1, 0, 1);
}

async function runConcurrently<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
