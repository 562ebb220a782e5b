import type { GrainId, MeasureStates, ViewDefinition } from '../../schemas/views/index.ts';
import type { LoadingCache } from './loading-cache.ts';

/**
 * What the query API reads, behind two small interfaces: the published batch versions (Parquet
 * views, DuckDbBatchSource) and the speed partials (Cassandra, CassandraSpeedSource). Tests of
 * parameter handling and formats inject in-memory ones; the merge is tested on the real ones.
 */

/** One complete batch version: batch(V) holds every reading with offset ≤ offsets[p]. */
export interface BatchVersionInfo {
  version: number;
  /** Readings-topic partition → B[p], the last offset the version covers. */
  offsets: Readonly<Record<number, number>>;
  /** When the version was written (ISO). */
  createdAt: string;
  /** When the master dataset it read was last updated: the age of its newest data (ISO). */
  dataAsOf: string;
}

export interface BatchSource {
  /** Complete versions that may be served, newest first; the first is CURRENT. Empty: no batch yet. */
  versions(): Promise<BatchVersionInfo[]>;
  /** Rows of one key at one grain with bucket in [from, to), as mergeable states. */
  readRows(version: number, view: ViewDefinition, grain: GrainId, key: string, from: number, to: number): Promise<BucketStates[]>;
  /** Rows of several keys at one grain with bucket in [from, to) (one DuckDB query, the key list bound). */
  readKeysRows(
    version: number,
    view: ViewDefinition,
    grain: GrainId,
    keys: readonly string[],
    from: number,
    to: number,
  ): Promise<KeyBucketStates[]>;
  /** The newest bucket of the view at the grain, over every key (null: the file is empty). */
  newestBucket(version: number, view: ViewDefinition, grain: GrainId): Promise<number | null>;
}

export interface BucketStates {
  bucket: number;
  states: MeasureStates;
}

export interface KeyBucketStates extends BucketStates {
  key: string;
}

export interface SpeedCheckpointInfo {
  partition: number;
  throughOffset: number;
  caughtUp: boolean;
  /** When the speed layer last wrote this checkpoint (epoch ms; null if unknown). */
  updatedAt: number | null;
}

export interface SpeedSource {
  checkpoints(generation: number): Promise<SpeedCheckpointInfo[]>;
  /** Every Kafka partition's piece of one key at one grain with bucket in [from, to). */
  readRows(
    view: string,
    generation: number,
    key: string,
    grain: GrainId,
    from: number,
    to: number,
  ): Promise<{ bucket: number; partition: number; states: MeasureStates }[]>;
}

export interface QuerySources {
  batch: BatchSource;
  speed: SpeedSource;
  /** Partitions of the readings topic: a speed generation is complete only when all of them are caught up. */
  partitions: number;
  /** Time limit of the speed layer's checkpoint read (the row read gets more per partition period). */
  speedTimeoutMs?: number;
  now?: () => number;
  /**
   * Merged answers by (batch version, speed generation, checkpoint offsets, view, grain, keys,
   * range): while the speed layer has not moved, a repeated query is answered from memory and is
   * still exactly what the sources would say (merge-rows.ts). Absent: every query reads.
   */
  mergedCache?: LoadingCache<CachedMerge>;
}

/** A merged read as cached: the rows, and why the speed part was dropped (null: it was not). */
export interface CachedMerge {
  rows: Map<string, Map<number, MeasureStates>>;
  speedDropped: string | null;
}
