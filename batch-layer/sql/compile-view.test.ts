import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeterReading } from '../../schemas/reading.ts';
import { evaluateView, type LoggedReading, meter15m, meterLookup, siteHourly, VIEWS, type ViewRow } from '../../schemas/views/index.ts';
import { TEST_METERS } from '../../schemas/views/test-support/arbitraries.ts';
import { compileFactsQuery, compileMergeQuery, compileViewQuery } from './compile-view.ts';
import { readViewRows } from './run-view.ts';
import { sqlString } from './sql-text.ts';
import { createMetersTable, createReadingsTable } from './tables.ts';

/** DuckDB sums in parallel, in no fixed order: values agree to rounding, not bit for bit. */
function expectRowsClose(actual: ViewRow[], expected: ViewRow[], label = ''): void {
  expect(actual.map((r) => `${r.key}@${r.bucket}`)).toEqual(expected.map((r) => `${r.key}@${r.bucket}`));
  actual.forEach((row, i) => {
    for (const [name, value] of Object.entries(expected[i]?.values ?? {})) {
      if (value === null) expect(row.values[name], `${label} ${name}`).toBeNull();
      else expect(row.values[name], `${label} ${name}`).toBeCloseTo(value, 9);
    }
  });
}

const tables = { readings: { kind: 'table', name: 'readings' }, meters: { kind: 'table', name: 'meters' } } as const;

describe('compiled SQL', () => {
  it.each(VIEWS.map((v) => [v.name, v] as const))('%s at its finest grain and per local day', (_name, view) => {
    expect(compileViewQuery(view, view.grains[0] ?? 'hour', tables).sql).toMatchSnapshot();
    expect(compileViewQuery(view, 'local-day', tables).sql).toMatchSnapshot();
    expect(compileMergeQuery(view, { kind: 'table', name: 'partials' }).sql).toMatchSnapshot();
  });

  it('binds Parquet file lists as parameters instead of splicing them in', () => {
    const q = compileViewQuery(siteHourly, 'day', { readings: { kind: 'parquet', files: ["/tmp/it's.parquet"] }, meters: tables.meters });
    expect(q.sql).toContain('read_parquet($readings_files)');
    expect(q.sql).not.toContain("it's");
    expect(q.params).toEqual({ readings_files: ["/tmp/it's.parquet"] });
  });

  it('refuses a grain the view does not serve', () => {
    expect(() => compileViewQuery(siteHourly, '15m', tables)).toThrow(expect.objectContaining({ code: 'MF_BAD_REQUEST' }));
  });
});

describe('compiled SQL in DuckDB', () => {
  let instance: DuckDBInstance;
  let con: DuckDBConnection;
  let dir: string;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    con = await instance.connect();
    await createMetersTable(con, 'meters', TEST_METERS);
    dir = mkdtempSync(join(tmpdir(), 'meterflow-sql-'));
  });
  afterAll(() => {
    con.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  const reading = (meterId: string, intervalStart: number, value: number, extra: Partial<MeterReading> = {}): MeterReading => {
    const meter = TEST_METERS.find((m) => m.meterId === meterId);
    return {
      meterId,
      intervalStart,
      intervalMinutes: meter?.intervalMinutes ?? 30,
      channel: 'import',
      kind: meter?.readingKind ?? 'interval',
      value,
      quality: 'actual',
      source: 'test',
      correction: false,
      ...extra,
    };
  };
  const log = (readings: MeterReading[]): LoggedReading[] => readings.map((reading, i) => ({ reading, partition: 0, offset: i }));

  it('expects 46 half-hours on the London spring-forward day and prices the local hours', async () => {
    const day = Date.UTC(2013, 2, 31) - 0; // local midnight = 00:00 UTC (GMT until 01:00 UTC)
    const readings = log(Array.from({ length: 46 }, (_, i) => reading('M1', day + i * 1_800_000, 0.5)));
    await createReadingsTable(con, 'readings', readings);
    const rows = await readViewRows(con, meter15m, 'local-day', compileViewQuery(meter15m, 'local-day', tables));
    expect(rows).toHaveLength(1);
    const v = rows[0]?.values;
    expect(v?.readingCount).toBe(46);
    expect(v?.expectedCount).toBe(46);
    expect(v?.coverage).toBe(1);
    expect(v?.importKwh).toBeCloseTo(23, 9);
    // A fully covered day pays exactly one standing charge (18.5p for Std).
    expect(v?.standingChargeCents).toBeCloseTo(18.5, 9);
    expect(v?.energyCostCents).toBeCloseTo(23 * 14.228, 9);
  });

  it('dedupes, applies corrections and converts registers like the reference evaluator', async () => {
    const t = Date.UTC(2013, 0, 10, 12);
    const readings = log([
      reading('M1', t, 1),
      reading('M1', t, 5), // differing re-send: ignored
      reading('M1', t + 1_800_000, 2),
      reading('M1', t + 1_800_000, 3, { correction: true }),
      reading('M3', t, 100),
      reading('M3', t + 1_800_000, 101.25),
      reading('M3', t + 3_600_000, 100.5), // backwards: flagged
      reading('M1', t, 1, { channel: 'export' }),
    ]);
    await createReadingsTable(con, 'readings', readings);
    for (const view of VIEWS) {
      const sqlRows = await readViewRows(con, view, 'hour', compileViewQuery(view, 'hour', tables));
      expectRowsClose(sqlRows, evaluateView(view, 'hour', readings, meterLookup(TEST_METERS)), view.name);
    }
    // A batch run materializes the facts once; every view and grain from that table is the same answer.
    await con.run(`CREATE OR REPLACE TEMP TABLE facts AS ${compileFactsQuery(tables).sql}`);
    for (const view of VIEWS) {
      for (const grain of view.grains) {
        const fromFacts = await readViewRows(
          con,
          view,
          grain,
          compileViewQuery(view, grain, { ...tables, facts: { kind: 'table', name: 'facts' } }),
        );
        expect(fromFacts.length, `${view.name} ${grain}`).toBeGreaterThan(0);
        expectRowsClose(fromFacts, evaluateView(view, grain, readings, meterLookup(TEST_METERS)), `${view.name} ${grain} (facts table)`);
      }
    }
  });

  it("merges shard partials with the measures' SQL merge forms into the unsharded answer", async () => {
    const t = Date.UTC(2013, 9, 26, 20);
    const readings = log(
      TEST_METERS.flatMap((m, i) =>
        Array.from({ length: 12 }, (_, k) =>
          reading(m.meterId, t + k * m.intervalMinutes * 60_000, m.readingKind === 'register' ? 50 + k * 0.7 : 0.1 * (i + k)),
        ),
      ),
    );
    const shard = (n: number) => readings.filter((r) => TEST_METERS.findIndex((m) => m.meterId === r.reading.meterId) % 2 === n);
    await createReadingsTable(con, 'readings', readings);
    await createReadingsTable(con, 'shard0', shard(0));
    await createReadingsTable(con, 'shard1', shard(1));
    for (const view of VIEWS) {
      for (const grain of ['hour', 'local-day'] as const) {
        const partialsOf = (name: string) =>
          compileViewQuery(view, grain, { readings: { kind: 'table', name }, meters: tables.meters }).sql;
        await con.run(
          `CREATE OR REPLACE TABLE partials AS SELECT * FROM (${partialsOf('shard0')}) UNION ALL SELECT * FROM (${partialsOf('shard1')})`,
        );
        const merged = await readViewRows(con, view, grain, compileMergeQuery(view, { kind: 'table', name: 'partials' }));
        const whole = await readViewRows(con, view, grain, compileViewQuery(view, grain, tables));
        expectRowsClose(merged, whole, `${view.name} ${grain}`);
      }
    }
  });

  it('never counts a NaN, infinite or negative value that reached the master dataset (like the speed layer)', async () => {
    const t = Date.UTC(2013, 4, 1, 10);
    const readings = log([
      reading('M1', t, Number.NaN),
      reading('M1', t, 0.5), // a later good copy of the same interval is the one counted
      reading('M1', t + 1_800_000, Number.POSITIVE_INFINITY),
      reading('M1', t + 3_600_000, -2),
      reading('M1', t + 5_400_000, 0.25),
    ]);
    await createReadingsTable(con, 'readings', readings);
    const rows = await readViewRows(con, meter15m, 'day', compileViewQuery(meter15m, 'day', tables));
    expect(rows.map((r) => [r.values.importKwh, r.values.readingCount])).toEqual([[0.75, 2]]);
    expectRowsClose(rows, evaluateView(meter15m, 'day', readings, meterLookup(TEST_METERS)));
  });

  it('accepts interval_start stored as TIMESTAMPTZ', async () => {
    await con.run(
      `CREATE OR REPLACE VIEW readings_tz AS SELECT * REPLACE (timezone('UTC', epoch_ms(interval_start)) AS interval_start) FROM readings`,
    );
    const viaTz = compileViewQuery(meter15m, 'local-day', {
      readings: { kind: 'table', name: 'readings_tz' },
      meters: tables.meters,
      intervalStartType: 'timestamptz',
    });
    expectRowsClose(
      await readViewRows(con, meter15m, 'local-day', viaTz),
      await readViewRows(con, meter15m, 'local-day', compileViewQuery(meter15m, 'local-day', tables)),
    );
  });

  it('reads Parquet through a bound parameter', async () => {
    await con.run(`COPY readings TO ${sqlString(join(dir, 'part-0.parquet'))} (FORMAT parquet)`);
    const q = compileViewQuery(meter15m, 'day', {
      readings: { kind: 'parquet', files: [join(dir, 'part-0.parquet')] },
      meters: tables.meters,
    });
    const fromParquet = await readViewRows(con, meter15m, 'day', q);
    const fromTable = await readViewRows(con, meter15m, 'day', compileViewQuery(meter15m, 'day', tables));
    expectRowsClose(fromParquet, fromTable);
  });
});
