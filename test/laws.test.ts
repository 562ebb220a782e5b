import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, listValue } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileViewQuery, createMetersTable, createReadingsTable, readViewRows } from '../batch-layer/sql/index.ts';
import type { Meter, MeterReading } from '../schemas/reading.ts';
import {
  coverage,
  defineView,
  evaluateView,
  expectedCount,
  finalizeStates,
  type GrainId,
  importKwh,
  type LoggedReading,
  type MeasureStates,
  meter15m,
  meterLookup,
  peakDemandKw,
  plusStates,
  readingCount,
  VIEWS,
  type ViewDefinition,
  type ViewRow,
} from '../schemas/views/index.ts';
import { loggedReadingsArb, TEST_METERS } from '../schemas/views/test-support/arbitraries.ts';
import { ViewFold } from '../speed-layer/fold/index.ts';
import { DATA_DIR } from './support/data-dir.ts';

/**
 * The law suite: every view, at every grain it serves, gives the same rows on every execution path
 * (Summingbird's "one job, every platform, same answer"). Paths:
 * - reference:   schemas/views/evaluate.ts, the whole input at once (the executable spec);
 * - speed:       the incremental ViewFold of one partition, read with snapshot();
 * - speed-merge: meters spread over two partitions, each folded separately and flushed in chunks,
 *                the flushed absolute partials upserted and then merged with plusStates, as the
 *                serving layer does;
 * - duckdb:      the compiled batch SQL run in DuckDB.
 * Each path is compared with the reference (the reference itself with the log reversed).
 */

/** A view nobody wrote code for: declaring it must be enough for every path to serve it. */
const siteTariffDaily = defineView({
  name: 'site_tariff_daily',
  dimensions: ['site', 'tariff'],
  finestGrainMinutes: 60,
  grains: ['local-day', 'local-month'],
  measures: [importKwh, readingCount, expectedCount, coverage, peakDemandKw],
});
const ALL_VIEWS: readonly ViewDefinition[] = [...VIEWS, siteTariffDaily];
const EVERY_VIEW_AND_GRAIN = ALL_VIEWS.flatMap((view) => view.grains.map((grain) => ({ view, grain })));

type Target = { view: ViewDefinition; grain: GrainId };
type Results = Map<string, ViewRow[]>;
const targetId = (t: Target) => `${t.view.name}@${t.grain}`;

interface Path {
  name: string;
  setUp?(): Promise<void>;
  tearDown?(): void;
  run(log: readonly LoggedReading[], meters: readonly Meter[], targets: readonly Target[]): Promise<Results>;
}

const referencePath: Path = {
  name: 'reference',
  async run(log, meters, targets) {
    const reversed = [...log].reverse();
    return new Map(targets.map((t) => [targetId(t), evaluateView(t.view, t.grain, reversed, meterLookup(meters))]));
  },
};

const speedPath: Path = {
  name: 'speed',
  async run(log, meters, targets) {
    const fold = new ViewFold({ partition: 0, views: ALL_VIEWS, meters: meterLookup(meters) });
    for (const r of log) fold.fold(r.reading, r.offset);
    return new Map(targets.map((t) => [targetId(t), fold.snapshot(t.view, t.grain)]));
  },
};

const speedMergePath: Path = {
  name: 'speed-merge',
  async run(log, meters, targets) {
    const partitionOf = (meterId: string) => meters.findIndex((m) => m.meterId === meterId) % 2;
    const stores = [0, 1].map(() => new Map<string, ViewRow>());
    const folds = [0, 1].map((partition) => new ViewFold({ partition, views: ALL_VIEWS, meters: meterLookup(meters) }));
    const flush = (p: number) => {
      for (const row of (folds[p] as ViewFold).flush().partials) {
        const id = `${row.view}|${row.grain}|${row.key}|${row.bucket}`;
        if (row.removed) stores[p]?.delete(id);
        else stores[p]?.set(id, row);
      }
    };
    // Flush often on small generated logs (many partial overwrites), rarely on a year of real data.
    const every = log.length > 1_000 ? 997 : 5;
    log.forEach((r, i) => {
      const p = partitionOf(r.reading.meterId);
      (folds[p] as ViewFold).fold(r.reading, r.offset);
      if (i % every === every - 1) flush(p);
    });
    flush(0);
    flush(1);
    const out: Results = new Map();
    for (const t of targets) {
      const merged = new Map<string, { key: string; bucket: number; states: MeasureStates }>();
      for (const store of stores) {
        for (const row of store.values()) {
          if (row.view !== t.view.name || row.grain !== t.grain) continue;
          const id = `${row.key}|${row.bucket}`;
          const seen = merged.get(id);
          merged.set(id, { key: row.key, bucket: row.bucket, states: seen ? plusStates(t.view, seen.states, row.states) : row.states });
        }
      }
      const rows = [...merged.values()].map((m) => ({ view: t.view.name, grain: t.grain, ...m, values: finalizeStates(t.view, m.states) }));
      out.set(
        targetId(t),
        rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.bucket - b.bucket)),
      );
    }
    return out;
  },
};

let duck: { instance: DuckDBInstance; con: DuckDBConnection } | undefined;
const duckdbPath: Path = {
  name: 'duckdb',
  async setUp() {
    const instance = await DuckDBInstance.create(':memory:');
    duck = { instance, con: await instance.connect() };
  },
  tearDown() {
    duck?.con.closeSync();
    duck?.instance.closeSync();
  },
  async run(log, meters, targets) {
    const con = (duck as { con: DuckDBConnection }).con;
    await createReadingsTable(con, 'readings', log);
    await createMetersTable(con, 'meters', meters);
    const tables = { readings: { kind: 'table', name: 'readings' }, meters: { kind: 'table', name: 'meters' } } as const;
    const out: Results = new Map();
    for (const t of targets) out.set(targetId(t), await readViewRows(con, t.view, t.grain, compileViewQuery(t.view, t.grain, tables)));
    return out;
  },
};

const PATHS: readonly Path[] = [referencePath, speedPath, speedMergePath, duckdbPath];

function closeTo(a: number | null | undefined, b: number | null | undefined, relative: number): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return a === b || (a ?? null) === (b ?? null);
  return Math.abs(a - b) <= relative * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Same rows (keys, buckets), same values to floating-point noise (sums in another order round differently). */
function expectSameRows(actual: readonly ViewRow[], expected: readonly ViewRow[], label: string): void {
  expect(
    actual.map((r) => `${r.key}@${r.bucket}`),
    label,
  ).toEqual(expected.map((r) => `${r.key}@${r.bucket}`));
  actual.forEach((row, i) => {
    const want = expected[i] as ViewRow;
    for (const [name, value] of Object.entries(want.values)) {
      if (!closeTo(row.values[name], value, 1e-9)) {
        expect.fail(`${label} ${row.key}@${new Date(row.bucket).toISOString()} ${name}: got ${row.values[name]}, want ${value}`);
      }
    }
  });
}

/** The LCL households' registry: one site per household, London time, their real tariff. */
const DATA = DATA_DIR;
const LCL_IDS = ['MAC000002', 'MAC000005', 'MAC000030'];

function lclMeters(): Meter[] {
  const households = readFileSync(join(DATA, 'lcl-2013-households.csv'), 'utf8').trim().split('\n').slice(1);
  return LCL_IDS.map((id) => {
    const tariff = households.find((line) => line.startsWith(`${id},`))?.split(',')[1] ?? 'Std';
    return {
      meterId: id,
      siteId: id,
      region: 'London',
      timeZone: 'Europe/London',
      tariff,
      ratedKw: 15,
      readingKind: 'interval',
      intervalMinutes: 30,
    };
  });
}

/** `LCLid,tstp,energy(kWh/hh)`: UTC interval starts, space-padded values, `Null` rows skipped. */
function lclReadings(): LoggedReading[] {
  const out: LoggedReading[] = [];
  for (const id of LCL_IDS) {
    for (const line of readFileSync(join(DATA, 'lcl-2013', `${id}.csv`), 'utf8')
      .split('\n')
      .slice(1)) {
      const [meterId, tstp, energy] = line.split(',');
      if (meterId === undefined || tstp === undefined || energy === undefined || energy.trim() === 'Null') continue;
      const reading: MeterReading = {
        meterId,
        intervalStart: Date.parse(`${tstp.replace(' ', 'T')}Z`),
        intervalMinutes: 30,
        channel: 'import',
        kind: 'interval',
        value: Number(energy.trim()),
        quality: 'actual',
        source: `replay:lcl:${id}.csv`,
        correction: false,
      };
      out.push({ reading, partition: 0, offset: out.length });
    }
  }
  return out;
}

/** The reference on the real data, computed once for all paths. */
let realReference: Results | undefined;

describe.each(PATHS.map((p) => [p.name, p] as const))('law suite, path %s', (_name, path) => {
  beforeAll(async () => path.setUp?.(), 30_000);
  afterAll(() => path.tearDown?.());

  it('gives the reference rows for every view and grain on generated readings (duplicates, corrections, registers, DST)', async () => {
    await fc.assert(
      fc.asyncProperty(loggedReadingsArb, async (log) => {
        const [got, want] = await Promise.all([
          path.run(log, TEST_METERS, EVERY_VIEW_AND_GRAIN),
          referencePath.run([...log].reverse(), TEST_METERS, EVERY_VIEW_AND_GRAIN),
        ]);
        for (const t of EVERY_VIEW_AND_GRAIN)
          expectSameRows(got.get(targetId(t)) ?? [], want.get(targetId(t)) ?? [], `${path.name} ${targetId(t)}`);
      }),
      { numRuns: path.name === 'duckdb' ? 12 : 40 },
    );
    // 12 runs × every view and grain is ~300 DuckDB queries: ~15 s on an idle 2-core machine.
  }, 90_000);

  describe('on real LCL 2013 data', () => {
    const log = lclReadings();
    const meters = lclMeters();
    const targets: Target[] = [
      ...ALL_VIEWS.map((view) => ({ view, grain: 'local-month' as GrainId })),
      { view: meter15m, grain: 'day' },
      { view: meter15m, grain: 'local-day' },
    ];
    let results: Results;
    beforeAll(async () => {
      results = await path.run(log, meters, targets);
    }, 60_000);

    it('per-meter daily import equals a direct DuckDB read_csv aggregation (1e-6 kWh, exact counts)', async () => {
      const instance = await DuckDBInstance.create(':memory:');
      const con = await instance.connect();
      try {
        const reader = await con.runAndReadAll(
          `SELECT LCLid AS meter_id, epoch_ms(date_trunc('day', tstp)) AS day, sum(TRY_CAST(trim(energy) AS DOUBLE)) AS kwh, count(*) AS n
           FROM read_csv($files, header = true, columns = {'LCLid': 'VARCHAR', 'tstp': 'TIMESTAMP', 'energy': 'VARCHAR'})
           WHERE trim(energy) <> 'Null'
           GROUP BY ALL ORDER BY meter_id, day`,
          { files: listValue(LCL_IDS.map((id) => join(DATA, 'lcl-2013', `${id}.csv`))) },
        );
        const direct = reader.getRowObjectsJS() as { meter_id: string; day: bigint; kwh: number; n: bigint }[];
        const rows = results.get(targetId({ view: meter15m, grain: 'day' })) ?? [];
        expect(rows.map((r) => `${r.key}@${r.bucket}`)).toEqual(direct.map((d) => `meter=${d.meter_id}@${Number(d.day)}`));
        rows.forEach((row, i) => {
          const d = direct[i] as (typeof direct)[number];
          expect(Math.abs((row.values.importKwh ?? Number.NaN) - d.kwh)).toBeLessThanOrEqual(1e-6);
          expect(row.values.readingCount).toBe(Number(d.n));
        });
        expect(rows.length).toBeGreaterThan(3 * 360);
      } finally {
        con.closeSync();
        instance.closeSync();
      }
    });

    it('agrees with the reference on every view per local month and per local day (23/25-hour days included)', async () => {
      realReference ??= await referencePath.run(log, meters, targets);
      const want = realReference;
      for (const t of targets) expectSameRows(results.get(targetId(t)) ?? [], want.get(targetId(t)) ?? [], `${path.name} ${targetId(t)}`);
      const springForward = results.get(targetId({ view: meter15m, grain: 'local-day' }))?.find((r) => r.bucket === Date.UTC(2013, 2, 31));
      expect(springForward?.values.expectedCount).toBe(46);
      // The reference evaluation of a year of three households runs once per file, in the first path's test.
    }, 90_000);
  });
});
