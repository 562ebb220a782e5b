import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { MeterflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { MeterReading } from '../../schemas/reading.ts';
import type { LoggedReading } from '../../schemas/views/index.ts';
import { type BatchLayout, fsyncPath, masterFileName, sha256File } from '../layout.ts';
import { sqlString } from '../sql/sql-text.ts';
import { createReadingsTable } from '../sql/tables.ts';
import {
  addMasterFile,
  emptyMasterManifest,
  type MasterFile,
  type MasterManifest,
  readMasterManifest,
  writeMasterManifest,
} from './master-manifest.ts';

export interface MasterWriterHooks {
  /** Called after a file is in place and before the manifest lists it (tests crash here). */
  beforeManifest?: (file: MasterFile) => void | Promise<void>;
}

interface Buffered {
  firstOffset: number;
  lastOffset: number;
  rows: LoggedReading[];
  skipped: number;
  since: number;
}

/**
 * Buffers the records of each readings-topic partition and writes them as immutable Parquet files
 * of the master dataset, each named by its offset range: the file first (temp name, then rename),
 * then the manifest (temp + rename). The manifest's coverage is the resume point, so a crash at any
 * step replays into the same range and never adds it twice. One writer per master folder at a time
 * (the `archive` job lease ensures it for scheduled runs).
 */
export class MasterWriter {
  private manifest: MasterManifest;
  private readonly buffers = new Map<number, Buffered>();
  /** Per partition, the last offset of the buffer being written to a file right now. */
  private readonly writing = new Map<number, number>();
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;

  private constructor(
    private readonly layout: BatchLayout,
    manifest: MasterManifest,
    private readonly connection: DuckDBConnection,
    private readonly instance: DuckDBInstance,
    private readonly log: Logger,
    private readonly hooks: MasterWriterHooks,
  ) {
    this.manifest = manifest;
  }

  static async open(layout: BatchLayout, topic: string, log: Logger, hooks: MasterWriterHooks = {}): Promise<MasterWriter> {
    const manifest = (await readMasterManifest(layout.masterManifest)) ?? emptyMasterManifest(topic);
    if (manifest.topic !== topic) {
      throw new MeterflowError(
        'MF_BATCH_MANIFEST_INVALID',
        `the master dataset in ${layout.masterDir} archives topic ${manifest.topic}, not ${topic}; use another batch.dataDir`,
        { details: { path: layout.masterManifest } },
      );
    }
    await mkdir(layout.masterDir, { recursive: true });
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const connection = await instance.connect();
    return new MasterWriter(layout, manifest, connection, instance, log.child({ component: 'master-writer' }), hooks);
  }

  /** The first offset of `partition` not yet archived (buffered counts as not archived), or undefined when none ever was. */
  resumeOffset(partition: number): number | undefined {
    const covered = this.manifest.partitions[partition]?.lastOffset;
    return covered === undefined ? undefined : covered + 1;
  }

  /** The next offset this writer expects for a partition (after what is buffered). */
  nextOffset(partition: number): number | undefined {
    const b = this.buffers.get(partition);
    if (b !== undefined) return b.lastOffset + 1;
    // A buffer being written is in neither the buffers nor the manifest yet: without this, a
    // re-fetch of its offsets during the write would be buffered again and overlap the file.
    const writing = this.writing.get(partition);
    return writing === undefined ? this.resumeOffset(partition) : writing + 1;
  }

  current(): MasterManifest {
    return this.manifest;
  }

  bufferedCount(partition: number): number {
    return this.buffers.get(partition)?.rows.length ?? 0;
  }

  bufferedSince(partition: number): number | undefined {
    return this.buffers.get(partition)?.since;
  }

  bufferedPartitions(): number[] {
    return [...this.buffers.keys()];
  }

  /**
   * One record of the log: a decoded reading, or undefined for bytes that did not decode (counted,
   * covered by the range, not stored). Records at offsets already archived or buffered are ignored
   * (returns false): a replay after a crash or a stale fetch never duplicates.
   */
  append(partition: number, offset: number, reading: MeterReading | undefined): boolean {
    this.throwIfFailed();
    const next = this.nextOffset(partition);
    if (next !== undefined && offset < next) return false;
    let b = this.buffers.get(partition);
    if (b === undefined) {
      b = { firstOffset: offset, lastOffset: offset, rows: [], skipped: 0, since: Date.now() };
      this.buffers.set(partition, b);
    }
    b.lastOffset = offset;
    if (reading === undefined) b.skipped++;
    else b.rows.push({ reading, partition, offset });
    return true;
  }

  /** Writes the partition's buffer as one file and lists it in the manifest. Flushes run one at a time. */
  flush(partition: number): Promise<MasterFile | undefined> {
    const job = this.chain.then(() => this.write(partition));
    this.chain = job.then(
      () => undefined,
      () => undefined,
    );
    return job;
  }

  async flushAll(): Promise<MasterFile[]> {
    const out: MasterFile[] = [];
    for (const p of [...this.buffers.keys()].sort((a, b) => a - b)) {
      const f = await this.flush(p);
      if (f) out.push(f);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.chain;
    this.connection.closeSync();
    this.instance.closeSync();
  }

  private async write(partition: number): Promise<MasterFile | undefined> {
    this.throwIfFailed();
    const b = this.buffers.get(partition);
    if (b === undefined) return undefined;
    this.buffers.delete(partition);
    this.writing.set(partition, b.lastOffset);
    try {
      const rel = masterFileName(partition, b.firstOffset, b.lastOffset);
      const path = join(this.layout.masterDir, rel);
      const tmp = `${path}.tmp-${process.pid}`;
      await mkdir(dirname(path), { recursive: true });
      await createReadingsTable(this.connection, 'archive_buffer', b.rows);
      await this.connection.run(`COPY archive_buffer TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
      await this.connection.run('DROP TABLE archive_buffer');
      await fsyncPath(tmp);
      // Same name after a crash-and-replay of an unlisted range: the rename replaces the orphan.
      await rename(tmp, path);
      const file: MasterFile = {
        path: rel,
        partition,
        firstOffset: b.firstOffset,
        lastOffset: b.lastOffset,
        rows: b.rows.length,
        skipped: b.skipped,
        bytes: (await stat(path)).size,
        sha256: await sha256File(path),
        createdAt: new Date().toISOString(),
      };
      await this.hooks.beforeManifest?.(file);
      const next = addMasterFile(this.manifest, file);
      await writeMasterManifest(this.layout.masterManifest, next);
      this.manifest = next;
      this.writing.delete(partition);
      this.log.debug({ file: rel, rows: file.rows, skipped: file.skipped }, 'master file written');
      return file;
    } catch (err) {
      // The buffer is gone: nothing more may be written out of order. The owner stops; a restart
      // resumes from the manifest.
      this.failure = err;
      throw err;
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) {
      throw new MeterflowError('MF_BATCH_FAILED', `the master writer stopped after an error: ${(this.failure as Error).message}`, {
        cause: this.failure,
      });
    }
  }
}
