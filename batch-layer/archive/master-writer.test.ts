import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import type { MeterReading } from '../../schemas/reading.ts';
import { batchLayout } from '../layout.ts';
import { addMasterFile, emptyMasterManifest, readMasterManifest } from './master-manifest.ts';
import { MasterWriter } from './master-writer.ts';

const log = createLogger('test', 'silent');
const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'meterflow-master-'));
  dirs.push(d);
  return batchLayout(d);
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const reading = (i: number, extra: Partial<MeterReading> = {}): MeterReading => ({
  meterId: `m${i % 3}`,
  intervalStart: Date.UTC(2013, 0, 1) + i * 1_800_000,
  intervalMinutes: 30,
  channel: 'import',
  kind: 'interval',
  value: i / 10,
  quality: 'actual',
  source: 'test',
  correction: false,
  ...extra,
});

async function parquetOffsets(files: string[]): Promise<number[]> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const list = files.map((f) => `'${f}'`).join(', ');
  const rows = (await con.runAndReadAll(`SELECT kafka_offset FROM read_parquet([${list}]) ORDER BY kafka_offset`)).getRowObjectsJS();
  con.closeSync();
  db.closeSync();
  return rows.map((r) => Number(r.kafka_offset));
}

describe('MasterWriter', () => {
  it('ignores a re-fetch of offsets whose file is being written (no overlapping file after a rebalance)', async () => {
    const layout = fresh();
    const refetched: boolean[] = [];
    const w: MasterWriter = await MasterWriter.open(layout, 'readings', log, {
      beforeManifest: (file) => {
        if (file.firstOffset !== 0) return;
        // The file is in place, the manifest does not list it yet: a rebalance re-reads the
        // partition from its low watermark right now.
        for (let o = 0; o < 10; o++) refetched.push(w.append(0, o, reading(o)));
        expect(w.nextOffset(0)).toBe(10);
        expect(w.append(0, 10, reading(10))).toBe(true);
      },
    });
    for (let o = 0; o < 10; o++) w.append(0, o, reading(o));
    const first = await w.flush(0);
    const second = await w.flush(0);
    await w.close();
    expect(refetched).toEqual(new Array(10).fill(false));
    expect(first).toMatchObject({ firstOffset: 0, lastOffset: 9 });
    expect(second).toMatchObject({ firstOffset: 10, lastOffset: 10 });
    const paths = [first, second].map((f) => join(layout.masterDir, f?.path ?? ''));
    expect(await parquetOffsets(paths)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('writes files named by offset range and lists them in the manifest; skipped records are covered, not stored', async () => {
    const layout = fresh();
    const w = await MasterWriter.open(layout, 'readings', log);
    for (let o = 0; o < 10; o++) w.append(0, o, o === 4 ? undefined : reading(o, o === 7 ? { correction: true } : {}));
    for (let o = 100; o < 105; o++) w.append(2, o, reading(o));
    const files = await w.flushAll();
    await w.close();
    expect(files.map((f) => f.path)).toEqual([
      join('p=0', '00000000000000000000-00000000000000000009.parquet'),
      join('p=2', '00000000000000000100-00000000000000000104.parquet'),
    ]);
    expect(files[0]).toMatchObject({ rows: 9, skipped: 1, firstOffset: 0, lastOffset: 9 });
    const m = await readMasterManifest(layout.masterManifest);
    expect(m?.partitions).toEqual({ 0: { firstOffset: 0, lastOffset: 9 }, 2: { firstOffset: 100, lastOffset: 104 } });
    expect(await parquetOffsets(files.map((f) => join(layout.masterDir, f.path)))).toEqual([
      0, 1, 2, 3, 5, 6, 7, 8, 9, 100, 101, 102, 103, 104,
    ]);
    expect(m?.files[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('resumes after the manifest: offsets already archived are ignored, nothing is listed twice', async () => {
    const layout = fresh();
    const a = await MasterWriter.open(layout, 'readings', log);
    for (let o = 0; o < 5; o++) a.append(1, o, reading(o));
    await a.flushAll();
    await a.close();
    const b = await MasterWriter.open(layout, 'readings', log);
    expect(b.resumeOffset(1)).toBe(5);
    expect(b.resumeOffset(0)).toBeUndefined();
    for (let o = 0; o < 8; o++) b.append(1, o, reading(o)); // a replay from the start
    await b.flushAll();
    await b.close();
    const m = await readMasterManifest(layout.masterManifest);
    expect(m?.files.map((f) => [f.firstOffset, f.lastOffset])).toEqual([
      [0, 4],
      [5, 7],
    ]);
    expect(await parquetOffsets((m?.files ?? []).map((f) => join(layout.masterDir, f.path)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('a crash between the file and the manifest leaves an unlisted orphan; the replay covers the range once', async () => {
    const layout = fresh();
    const a = await MasterWriter.open(layout, 'readings', log, {
      beforeManifest: () => {
        throw new Error('crash');
      },
    });
    for (let o = 0; o < 5; o++) a.append(0, o, reading(o));
    await expect(a.flush(0)).rejects.toThrow('crash');
    expect(() => a.append(0, 5, reading(5))).toThrow(expect.objectContaining({ code: 'MF_BATCH_FAILED' }));
    await a.close();
    expect(readdirSync(join(layout.masterDir, 'p=0'))).toHaveLength(1);
    expect(await readMasterManifest(layout.masterManifest)).toBeUndefined();

    const b = await MasterWriter.open(layout, 'readings', log);
    for (let o = 0; o < 7; o++) b.append(0, o, reading(o));
    await b.flushAll();
    await b.close();
    const m = await readMasterManifest(layout.masterManifest);
    expect(m?.files.map((f) => f.path)).toEqual([join('p=0', '00000000000000000000-00000000000000000006.parquet')]);
    expect(readdirSync(join(layout.masterDir, 'p=0')).sort()).toEqual([
      '00000000000000000000-00000000000000000004.parquet',
      '00000000000000000000-00000000000000000006.parquet',
    ]);
    expect(await parquetOffsets([join(layout.masterDir, m?.files[0]?.path ?? '')])).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('refuses a master folder of another topic', async () => {
    const layout = fresh();
    const a = await MasterWriter.open(layout, 'one', log);
    a.append(0, 0, reading(0));
    await a.flushAll();
    await a.close();
    await expect(MasterWriter.open(layout, 'two', log)).rejects.toMatchObject({ code: 'MF_BATCH_MANIFEST_INVALID' });
    expect(existsSync(layout.masterManifest)).toBe(true);
  });
});

describe('master manifest', () => {
  const file = (partition: number, firstOffset: number, lastOffset: number) => ({
    path: `p=${partition}/${firstOffset}`,
    partition,
    firstOffset,
    lastOffset,
    rows: 1,
    skipped: 0,
    bytes: 1,
    sha256: '',
    createdAt: '',
  });
  it('never adds a range that is already covered', () => {
    const m = addMasterFile(emptyMasterManifest('t'), file(0, 0, 9));
    expect(() => addMasterFile(m, file(0, 5, 12))).toThrow(/overlaps/);
    expect(() => addMasterFile(m, file(0, 9, 9))).toThrow(/overlaps/);
    expect(addMasterFile(m, file(0, 10, 12)).partitions[0]).toEqual({ firstOffset: 0, lastOffset: 12 });
  });
});
