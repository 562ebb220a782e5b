import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import { lclMeters, opsdMeters, readLcl, readOpsd } from '../../ingest/sources/index.ts';
import type { Meter, MeterReading } from '../../schemas/reading.ts';
import { type LoggedReading, VIEWS } from '../../schemas/views/index.ts';
import { DATA_DIR } from '../../test/support/data-dir.ts';
import { MemoryGenerations } from '../../test/support/memory-generations.ts';
import { MasterWriter } from '../archive/master-writer.ts';
import { type BatchLayout, batchLayout } from '../layout.ts';
import { checkRangeOptions } from './dirty-buckets.ts';
import { runRecompute } from './recompute.ts';
import { readCurrentVersion, type VersionManifest } from './versions.ts';

// Incremental batch runs over real London (interval) and Konstanz (cumulative register) meters:
// after late readings, carrying rows forward must give what a full run over the same master writes.
const log = createLogger('test', 'silent');
const LCL = ['MAC000002', 'MAC000003'];
const LCL_END = Date.UTC(2013, 4, 1); // Jan–Apr 2013 first; 1 May arrives late ("a new day")
const OPSD_END = Date.UTC(2015, 7, 1); // 21 May – Jul 2015

async function realReadings(): Promise<MeterReading[]> {
  const out: MeterReading[] = [];
  for (const h of LCL) {
    for await (const item of readLcl(join(DATA_DIR, 'lcl-2013', `${h}.csv`))) {
      if (item.reading && item.reading.intervalStart < LCL_END + 86_400_000) out.push(item.reading);
    }
  }
  for await (const item of readOpsd(join(DATA_DIR, 'opsd-households', 'residential_1.csv'))) {
    if (item.reading && item.reading.intervalStart < OPSD_END) out.push(item.reading);
  }
  return out;
}

/** Appends readings to the log: partition by meter, offsets continuing each partition's. */
class Log {
  readonly entries: LoggedReading[] = [];
  private next = [0, 0];
  append(readings: MeterReading[]): LoggedReading[] {
    const added = readings.map((reading) => {
      const partition = [...reading.meterId].reduce((h, c) => h + c.charCodeAt(0), 0) % 2;
      const offset = this.next[partition] ?? 0;
      this.next[partition] = offset + 1;
      return { reading, partition, offset };
    });
    this.entries.push(...added);
    return added;
  }
}

async function archive(layout: BatchLayout, entries: LoggedReading[]): Promise<void> {
  const w = await MasterWriter.open(layout, 'readings', log);
  for (const e of entries) {
    if (w.append(e.partition, e.offset, e.reading) && w.bufferedCount(e.partition) >= 4_000) await w.flush(e.partition);
  }
  await w.flushAll();
  await w.close();
}

/**
 * Where `actual` differs from `expected`: numbers to 1e-9 (DuckDB sums in parallel, in no fixed
 * order), lists of member structs as sets (their order is DuckDB's), everything else exactly.
 * Plain comparisons, not an expect() per value: the views hold tens of thousands of rows.
 */
function differences(actual: unknown, expected: unknown, label: string, out: string[]): void {
  if (out.length > 10) return;
  if (typeof expected === 'number' && typeof actual === 'number') {
    const ok = Number.isNaN(expected) ? Number.isNaN(actual) : Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
    if (!ok) out.push(`${label}: ${actual} vs ${expected}`);
  } else if (Array.isArray(expected) && Array.isArray(actual)) {
    if (actual.length !== expected.length) out.push(`${label}: ${actual.length} vs ${expected.length} elements`);
    const sorted = (l: unknown[]) => [...l].sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));
    const [x, y] = [sorted(actual), sorted(expected)];
    for (const [i, e] of y.entries()) differences(x[i], e, `${label}[${i}]`, out);
  } else if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
    const keys = (o: object) => Object.keys(o).sort().join(',');
    if (keys(actual) !== keys(expected)) out.push(`${label}: keys ${keys(actual)} vs ${keys(expected)}`);
    for (const [k, v] of Object.entries(expected)) differences((actual as Record<string, unknown>)[k], v, `${label}.${k}`, out);
  } else if (actual !== expected) {
    out.push(`${label}: ${String(actual)} vs ${String(expected)}`);
  }
}

describe('incremental batch run over real LCL and OPSD readings', { timeout: 120_000 }, () => {
  let dir: string;
  let layout: BatchLayout;
  let db: DuckDBInstance;
  let con: DuckDBConnection;
  let meters: Meter[];
  const generations = new MemoryGenerations();
  const master = new Log();
  const late: MeterReading[] = [];
  const manifests: Record<string, VersionManifest> = {};
  const run = (extra: Partial<Parameters<typeof runRecompute>[0]> = {}) =>
    runRecompute({ layout, log, meters, generations, threads: 2, memoryLimit: '1GB', ...extra });

  /** Every view file of version `a` equals the one of version `b`: schema, row keys, buckets, states and values. */
  async function expectSameViews(a: VersionManifest, b: VersionManifest): Promise<number> {
    let rows = 0;
    for (const view of VIEWS) {
      for (const grain of view.grains) {
        const file = (m: VersionManifest) => join(layout.viewsDir, `v${m.version}`, m.views[view.name]?.[grain]?.file ?? 'missing');
        const read = async (path: string) =>
          (await con.runAndReadAll(`SELECT * FROM read_parquet('${path}') ORDER BY row_key, bucket`)).getRowObjectsJS();
        const schema = async (path: string) =>
          (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`))
            .getRowObjectsJS()
            .map((r) => `${r.column_name} ${r.column_type}`);
        expect(await schema(file(a)), `${view.name}/${grain} schema`).toEqual(await schema(file(b)));
        const [x, y] = [await read(file(a)), await read(file(b))];
        expect(
          x.map((r) => `${r.row_key}@${r.bucket}`),
          `${view.name}/${grain} rows`,
        ).toEqual(y.map((r) => `${r.row_key}@${r.bucket}`));
        const diffs: string[] = [];
        for (const [i, row] of x.entries()) differences(row, y[i], `${view.name}/${grain} ${row.row_key}@${row.bucket}`, diffs);
        expect(diffs).toEqual([]);
        expect(a.views[view.name]?.[grain]?.rows).toBe(x.length);
        rows += x.length;
      }
    }
    return rows;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meterflow-incremental-'));
    layout = batchLayout(dir);
    db = await DuckDBInstance.create(':memory:');
    con = await db.connect();
    const lcl = (await lclMeters(join(DATA_DIR, 'lcl-2013-households.csv'))).filter((m) => LCL.some((h) => m.meterId.endsWith(h)));
    meters = [...lcl, ...(await opsdMeters(join(DATA_DIR, 'opsd-households')))];
    // An OPSD outage of three days across 1 June: the first June read's kWh spans back to 29 May,
    // before any window a dirty June reads, so the run needs the series' baseline read.
    const outage = [Date.parse('2015-05-29T12:00:00Z'), Date.parse('2015-06-01T12:00:00Z')];
    const all = (await realReadings()).filter(
      (r) => !(r.meterId.startsWith('opsd:') && r.intervalStart >= (outage[0] as number) && r.intervalStart < (outage[1] as number)),
    );
    const at = (meterId: string, iso: string, channel = 'import') =>
      all.find((r) => r.meterId === meterId && r.channel === channel && r.intervalStart === Date.parse(iso)) as MeterReading;
    // Held back, sent after the first run: a missing morning, a whole new day (1 May), and a
    // register read in the middle of an OPSD series (its own fact and its successor's change).
    const heldBack = new Set<MeterReading>([
      ...all.filter(
        (r) =>
          r.meterId === 'lcl:MAC000002' &&
          r.intervalStart >= Date.parse('2013-02-14T10:00:00Z') &&
          r.intervalStart < Date.parse('2013-02-14T12:00:00Z'),
      ),
      ...all.filter((r) => r.intervalStart >= LCL_END && r.intervalStart < LCL_END + 86_400_000),
      at('opsd:residential_1', '2015-06-15T12:00:00Z'),
    ]);
    expect(heldBack.size).toBeGreaterThan(90);
    master.append(all.filter((r) => !heldBack.has(r)));
    const resent = at('lcl:MAC000003', '2013-03-10T08:00:00Z');
    const corrected = at('lcl:MAC000002', '2013-03-20T18:30:00Z');
    // A register correction just before a local month starts (01:00 on 1 July in Berlin, still June in UTC).
    const pv = at('opsd:residential_1:pv', '2015-06-30T23:00:00Z', 'export');
    late.push(
      ...heldBack,
      { ...resent },
      { ...corrected, value: corrected.value + 0.5, correction: true },
      { ...pv, value: pv.value + 0.3, correction: true },
    );
    expect(resent && corrected && pv).toBeTruthy();
  });
  afterAll(() => {
    con?.closeSync();
    db?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the first run is full; the next one after late readings is incremental and equals a full run over the same master', async () => {
    await archive(layout, master.entries);
    manifests.v1 = await run();
    expect(manifests.v1.run).toMatchObject({ mode: 'full', reason: 'no previous version to carry rows from', carriedRows: 0 });
    expect(manifests.v1.fingerprint).toMatch(/^[0-9a-f]{64}$/);

    await archive(layout, master.append(late));
    manifests.v2 = await run();
    manifests.v3 = await run({ mode: 'full' });
    expect(manifests.v2.run).toMatchObject({ mode: 'incremental', baseVersion: 1, newReadings: late.length, linkedFiles: 0 });
    expect(manifests.v3.run).toMatchObject({ mode: 'full', reason: 'full run requested' });
    expect(manifests.v2.offsets).toEqual(manifests.v3.offsets);
    const rows = await expectSameViews(manifests.v2, manifests.v3);
    const r2 = manifests.v2.run;
    expect(r2 && r2.recomputedRows + r2.carriedRows).toBe(rows);
    expect(r2?.carriedRows).toBeGreaterThan(r2?.recomputedRows ?? Number.POSITIVE_INFINITY);
    // Month grains make whole months dirty: here Feb, Mar, May (LCL) and Jun–Jul (OPSD) of Jan–May and May–Jul.
    expect(r2?.readingsLoaded).toBeLessThan(master.entries.length * 0.85);
    // Per file too, and the new day is there: 1 May's buckets exist in v2 and not in v1.
    const meterDay = manifests.v2.views.meter_15m?.day;
    expect(meterDay && (meterDay.recomputedRows ?? 0) + (meterDay.carriedRows ?? 0)).toBe(meterDay?.rows);
    expect(meterDay?.rows).toBe((manifests.v1.views.meter_15m?.day?.rows ?? 0) + 2);
    // Equal content, equal bytes: both paths write the same ordered rows with the same writer.
    const same = VIEWS.flatMap((v) =>
      v.grains.map((g) => manifests.v2?.views[v.name]?.[g]?.sha256 === manifests.v3?.views[v.name]?.[g]?.sha256),
    );
    console.info(
      `full v1 ${manifests.v1.timing.totalMs} ms, incremental v2 ${manifests.v2.timing.totalMs} ms (${r2?.readingsLoaded} of ${master.entries.length} readings loaded, ${r2?.recomputedRows} rows recomputed, ${r2?.carriedRows} carried), full v3 ${manifests.v3.timing.totalMs} ms; ${same.filter(Boolean).length}/${same.length} files byte-identical`,
    );
  });

  it('a run with nothing new links every file; --from/--to recomputes those days and still equals the full run', async () => {
    const idle = await run();
    expect(idle.run).toMatchObject({ mode: 'incremental', baseVersion: 3, newReadings: 0, recomputedRows: 0 });
    expect(idle.run?.linkedFiles).toBe(VIEWS.reduce((n, v) => n + v.grains.length, 0));
    await expectSameViews(idle, manifests.v3 as VersionManifest);

    const ranged = await run({ range: { from: '2013-03-30', to: '2013-04-02' } });
    expect(ranged.run).toMatchObject({
      mode: 'range',
      baseVersion: idle.version,
      range: { from: '2013-03-30', to: '2013-04-02' },
      newReadings: 0,
    });
    // Days at 30 Mar–2 Apr make March and April dirty at the month grains.
    expect(ranged.run?.windows?.[0]).toEqual({ from: '2013-02-28T00:00:00.000Z', to: '2013-05-02T00:00:00.000Z' });
    expect(ranged.run?.recomputedRows).toBeGreaterThan(0);
    await expectSameViews(ranged, manifests.v3 as VersionManifest);
  });

  it('refuses a bad --from/--to with a message that says what is wrong', async () => {
    const bad = (o: { full?: boolean; from?: string; to?: string }) => () => checkRangeOptions(o);
    expect(checkRangeOptions({})).toBeUndefined();
    expect(bad({ from: '2013-03-01' })).toThrow(/--from and --to go together/);
    expect(bad({ from: '2013-02-30', to: '2013-03-01' })).toThrow(/--from "2013-02-30": use a calendar date/);
    expect(bad({ from: '2013-03-01', to: '1 March' })).toThrow(/--to "1 March"/);
    expect(bad({ from: '2013-03-02', to: '2013-03-01' })).toThrow(/--from 2013-03-02 is after --to 2013-03-01/);
    expect(bad({ full: true, from: '2013-03-01', to: '2013-03-02' })).toThrow(/--full/);
    expect(bad({ from: '2013-03-01' })).toThrow(expect.objectContaining({ code: 'MF_BAD_REQUEST' }));
    const current = await readCurrentVersion(layout);
    await expect(run({ range: { from: '2013-13-01', to: '2013-12-31' } })).rejects.toMatchObject({ code: 'MF_BAD_REQUEST' });
    expect(await readCurrentVersion(layout)).toBe(current);
  });

  it('a failing incremental run leaves the served version and the published generation unchanged', async () => {
    await archive(layout, master.append([{ ...(late[0] as MeterReading), value: 0.123, correction: true }]));
    const current = readFileSync(layout.current, 'utf8');
    const published = generations.published.length;
    const fail = () => {
      throw new Error('injected failure');
    };
    await expect(run({ hooks: { afterView: fail } })).rejects.toThrow('injected failure');
    await expect(run({ hooks: { beforePublish: fail } })).rejects.toThrow('injected failure');
    expect(readFileSync(layout.current, 'utf8')).toBe(current);
    expect(generations.published.length).toBe(published);
    // The next run still starts from the served version and takes the correction in.
    const next = await run();
    expect(next.run).toMatchObject({ mode: 'incremental', newReadings: 1 });
    await expectSameViews(next, await run({ mode: 'full' }));
  });

  it('falls back to a full run when the meter registry changed since the served version', async () => {
    const moved = meters.map((m) => (m.meterId === 'lcl:MAC000002' ? { ...m, tariff: 'Std' === m.tariff ? 'ToU' : 'Std' } : m));
    const m = await runRecompute({ layout, log, meters: moved, generations, threads: 2, memoryLimit: '1GB' });
    expect(m.run).toMatchObject({ mode: 'full' });
    expect(m.run?.reason).toMatch(/meter registry/);
  });
});
