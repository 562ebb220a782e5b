import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import { evaluateView, type LoggedReading, meter15m, meterLookup, VIEWS, type ViewRow } from '../../schemas/views/index.ts';
import { loggedReadingsArb, TEST_METERS } from '../../schemas/views/test-support/arbitraries.ts';
import { MemoryGenerations } from '../../test/support/memory-generations.ts';
import { readMasterManifest } from '../archive/master-manifest.ts';
import { MasterWriter } from '../archive/master-writer.ts';
import { collectGarbage } from '../gc.ts';
import { type BatchLayout, batchLayout } from '../layout.ts';
import { verifyBatchData } from '../verify.ts';
import { readBatchViewRows } from './read-views.ts';
import { runRecompute } from './recompute.ts';
import { listVersions, readCurrentVersion, rollback } from './versions.ts';

const log = createLogger('test', 'silent');

/** A deterministic log with re-sends, differing re-sends and corrections, over two partitions with contiguous offsets. */
function sampleLog(seed: number): LoggedReading[] {
  const readings = fc.sample(loggedReadingsArb, { seed, numRuns: 6 }).flatMap((l) => l.map((r) => r.reading));
  const next = [0, 0];
  return readings.map((reading) => {
    const partition = Number(reading.meterId.slice(1)) % 2;
    const offset = next[partition] ?? 0;
    next[partition] = offset + 1;
    return { reading, partition, offset };
  });
}

async function archive(layout: BatchLayout, entries: LoggedReading[], fileEvery = 40): Promise<void> {
  const w = await MasterWriter.open(layout, 'readings', log);
  for (const e of entries) {
    if (w.append(e.partition, e.offset, e.reading) && w.bufferedCount(e.partition) >= fileEvery) await w.flush(e.partition);
  }
  await w.flushAll();
  await w.close();
}

function expectRowsClose(actual: ViewRow[], expected: ViewRow[], label: string): void {
  expect(
    actual.map((r) => `${r.key}@${r.bucket}`),
    label,
  ).toEqual(expected.map((r) => `${r.key}@${r.bucket}`));
  actual.forEach((row, i) => {
    for (const [name, value] of Object.entries(expected[i]?.values ?? {})) {
      if (value === null) expect(row.values[name], `${label} ${name}`).toBeNull();
      else expect(row.values[name], `${label} ${name}`).toBeCloseTo(value, 9);
    }
  });
}

describe('batch recompute over the master dataset', () => {
  let dir: string;
  let layout: BatchLayout;
  let db: DuckDBInstance;
  let con: DuckDBConnection;
  const generations = new MemoryGenerations();
  const all = sampleLog(7);
  const firstHalf = all.filter((e) => e.offset < 20);
  const firstB = { 0: 19, 1: 19 };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterflow-batch-'));
    layout = batchLayout(dir);
    db = await DuckDBInstance.create(':memory:');
    con = await db.connect();
  });
  afterAll(() => {
    con.closeSync();
    db.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (hooks = {}) => runRecompute({ layout, log, meters: TEST_METERS, generations, hooks, threads: 2, memoryLimit: '512MB' });

  it('refuses to run before anything is archived', async () => {
    await expect(run()).rejects.toMatchObject({ code: 'MF_BATCH_NO_DATA' });
    expect(await readCurrentVersion(layout)).toBeUndefined();
  });

  it('writes every view at every grain equal to the reference evaluation, with offsets B[p] and checksums, and publishes it', async () => {
    await archive(layout, firstHalf);
    const m = await run();
    expect(m.version).toBe(1);
    expect(await readCurrentVersion(layout)).toBe(1);
    expect(all.filter((e) => e.offset >= 20).length).toBeGreaterThan(10);
    expect(m.offsets).toEqual(firstB);
    expect(generations.published.at(-1)).toMatchObject({ generation: 1, offsets: firstB });
    expect(m.master.rows).toBe(firstHalf.length);
    for (const view of VIEWS) {
      for (const grain of view.grains) {
        const { rows } = await readBatchViewRows(con, layout, view, grain);
        expectRowsClose(rows, evaluateView(view, grain, firstHalf, meterLookup(TEST_METERS)), `${view.name}/${grain}`);
        expect(m.views[view.name]?.[grain]?.rows).toBe(rows.length);
        expect(m.views[view.name]?.[grain]?.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
    }
  });

  it('a run that fails before the CURRENT rename changes nothing a reader sees', async () => {
    await archive(layout, all);
    const before = await readBatchViewRows(con, layout, meter15m, 'day');
    const current = readFileSync(layout.current, 'utf8');
    const fail = () => {
      throw new Error('injected failure');
    };
    await expect(run({ beforePublish: fail })).rejects.toThrow('injected failure');
    await expect(run({ afterView: fail })).rejects.toThrow('injected failure');
    expect(readFileSync(layout.current, 'utf8')).toBe(current);
    expect(generations.published.map((g) => g.generation)).toEqual([1]);
    expect(await readBatchViewRows(con, layout, meter15m, 'day')).toEqual(before);
    // The failed runs' folders exist but are not complete: nothing serves them.
    expect((await listVersions(layout)).map((v) => [v.version, v.complete, v.current])).toEqual([
      [3, false, false],
      [2, true, false],
      [1, true, true],
    ]);
  });

  it('a corrupt master file fails the run and leaves CURRENT as it was', async () => {
    const master = await readMasterManifest(layout.masterManifest);
    const victim = join(layout.masterDir, master?.files.at(-1)?.path ?? '');
    const good = readFileSync(victim);
    writeFileSync(victim, Buffer.from('PAR1 this is not parquet'));
    try {
      await expect(run()).rejects.toThrow();
      expect(await readCurrentVersion(layout)).toBe(1);
    } finally {
      writeFileSync(victim, good);
    }
  });

  it('the next run covers the whole log; rollback publishes a new generation with the old offsets', async () => {
    const m = await run();
    expect(m.version).toBe(5);
    expect(await readCurrentVersion(layout)).toBe(5);
    const { rows } = await readBatchViewRows(con, layout, meter15m, '15m');
    expectRowsClose(rows, evaluateView(meter15m, '15m', all, meterLookup(TEST_METERS)), 'v5');

    const back = await rollback(layout, 1, generations);
    expect(back).toMatchObject({ version: 6, rollbackOf: 1, offsets: firstB });
    expect(await readCurrentVersion(layout)).toBe(6);
    expect(generations.published.at(-1)).toMatchObject({ generation: 6, offsets: firstB });
    const served = await readBatchViewRows(con, layout, meter15m, 'day');
    expectRowsClose(served.rows, evaluateView(meter15m, 'day', firstHalf, meterLookup(TEST_METERS)), 'rolled back');
    await expect(rollback(layout, 3, generations)).rejects.toMatchObject({ code: 'MF_BATCH_VERSION_UNKNOWN' });
  });

  it('gc keeps the newest complete versions and CURRENT, and deletes unfinished folders and unlisted master files', async () => {
    const orphan = join(layout.masterDir, 'p=0', '00000000000000999999-00000000000000999999.parquet');
    writeFileSync(orphan, 'orphan');
    const young = await collectGarbage(layout, { keep: 2, orphanMinAgeMs: 3_600_000 });
    expect(young).toMatchObject({ deletedVersions: [2, 1], deletedUnfinished: [], deletedMasterOrphans: [] });
    const report = await collectGarbage(layout, { keep: 1, orphanMinAgeMs: 0 });
    expect(report.deletedVersions).toEqual([5]);
    expect(report.deletedUnfinished.sort()).toEqual([3, 4]);
    expect(report.deletedMasterOrphans).toEqual([join('p=0', '00000000000000999999-00000000000000999999.parquet')]);
    expect(report.kept).toEqual([6]);
    // The rolled-back version's hard links outlive the deleted originals.
    const served = await readBatchViewRows(con, layout, meter15m, 'day');
    expectRowsClose(served.rows, evaluateView(meter15m, 'day', firstHalf, meterLookup(TEST_METERS)), 'after gc');
  });

  it('verify finds every master and version file intact, then names a corrupted and a missing one', async () => {
    const clean = await verifyBatchData(layout);
    expect(clean.problems).toEqual([]);
    expect(clean.filesChecked).toBeGreaterThan(VIEWS.length);
    const current = (await readCurrentVersion(layout)) as number;
    const served = join(layout.viewsDir, `v${current}`, meter15m.name, 'day.parquet');
    appendFileSync(served, 'x');
    const master = (await readMasterManifest(layout.masterManifest))?.files[0]?.path as string;
    rmSync(join(layout.masterDir, master));
    const broken = await verifyBatchData(layout);
    expect(broken.problems.map((p) => [p.where, p.path, p.problem]).sort()).toEqual(
      [
        ['master', join(layout.masterDir, master), 'missing'],
        [`v${current}`, served, 'checksum'],
        [`v${current}`, served, 'size'],
      ].sort(),
    );
  });
});
