import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MeterReading } from '../../schemas/reading.ts';
import {
  evaluateView,
  finalizeStates,
  type MeasureStates,
  meter15m,
  meterLookup,
  plusStates,
  VIEWS,
  type ViewRow,
} from '../../schemas/views/index.ts';
import { logAndPermutationArb, loggedReadingsArb, TEST_METERS } from '../../schemas/views/test-support/arbitraries.ts';
import { ViewFold } from './view-fold.ts';

const meters = meterLookup(TEST_METERS);
const newFold = () => new ViewFold({ partition: 0, views: VIEWS, meters });

function snapshotAll(fold: ViewFold): ViewRow[] {
  return VIEWS.flatMap((v) => v.grains.flatMap((g) => fold.snapshot(v, g)));
}

const base: MeterReading = {
  meterId: 'M1',
  intervalStart: Date.UTC(2013, 0, 1, 10, 0),
  intervalMinutes: 30,
  channel: 'import',
  kind: 'interval',
  value: 0.5,
  quality: 'actual',
  source: 'test',
  correction: false,
};

/** A read of M3, which has a cumulative register, `minutes` after 2013-01-01 00:00 UTC. */
function registerRead(minutes: number, value: number, kind: 'register' | 'interval' = 'register', correction = false): MeterReading {
  return { ...base, meterId: 'M3', kind, intervalStart: Date.UTC(2013, 0, 1, 0, minutes), value, correction };
}

function dayImport(fold: ViewFold, start = base.intervalStart): number | null | undefined {
  const row = fold.snapshot(meter15m, 'day').find((r) => r.bucket === Math.floor(start / 86_400_000) * 86_400_000);
  return row?.values.importKwh;
}

describe('ViewFold examples', () => {
  it('counts an exact re-send once', () => {
    const fold = newFold();
    expect(fold.fold(base, 1)).toBe('won');
    expect(fold.fold(base, 2)).toBe('ignored');
    expect(dayImport(fold)).toBe(0.5);
  });

  it('ignores a re-send with a different value that is not a correction (first copy wins)', () => {
    const fold = newFold();
    fold.fold(base, 1);
    fold.fold({ ...base, value: 9 }, 2);
    expect(dayImport(fold)).toBe(0.5);
  });

  it('lets the latest correction replace the value, whatever the arrival order', () => {
    const a = newFold();
    a.fold(base, 1);
    a.fold({ ...base, value: 0.2, correction: true }, 5);
    a.fold({ ...base, value: 0.3, correction: true }, 9);
    const b = newFold();
    b.fold({ ...base, value: 0.3, correction: true }, 9);
    b.fold(base, 1);
    b.fold({ ...base, value: 0.2, correction: true }, 5);
    expect(dayImport(a)).toBe(0.3);
    expect(snapshotAll(b)).toEqual(snapshotAll(a));
  });

  it('recomputes max after a correction lowers the maximum (not invertible, so recomputed)', () => {
    const fold = newFold();
    fold.fold({ ...base, value: 2 }, 1);
    fold.fold({ ...base, intervalStart: base.intervalStart + 1_800_000, value: 1 }, 2);
    fold.fold({ ...base, value: 0.1, correction: true }, 3);
    const row = fold.snapshot(meter15m, 'day')[0];
    expect(row?.values.maxIntervalKwh).toBe(1);
    expect(row?.values.minIntervalKwh).toBe(0.1);
  });

  it('turns register reads into interval kWh, flags a backwards register and recomputes the next interval on a correction', () => {
    const reg = (minutes: number, value: number, correction = false) => registerRead(minutes, value, 'register', correction);
    const fold = newFold();
    fold.fold(reg(0, 100), 1);
    fold.fold(reg(30, 101.5), 2);
    fold.fold(reg(60, 101), 3); // backwards: flagged, no energy
    fold.fold(reg(120, 104), 4); // after a gap: 3 kWh over 60 minutes
    let hours = fold.snapshot(meter15m, 'hour');
    expect(hours.map((r) => [r.values.importKwh, r.values.readingCount, r.values.flaggedCount, r.values.peakDemandKw])).toEqual([
      [1.5, 1, 0, 3],
      [0, 0, 1, null],
      [3, 1, 0, 3],
    ]);
    fold.fold(reg(60, 102, true), 5); // the correction fixes its own interval and the next one
    hours = fold.snapshot(meter15m, 'hour');
    expect(hours.map((r) => [r.values.importKwh, r.values.flaggedCount])).toEqual([
      [1.5, 0],
      [0.5, 0],
      [2, 0],
    ]);
  });

  it('folds a late reading into its own (old) bucket', () => {
    const fold = newFold();
    fold.fold({ ...base, intervalStart: Date.UTC(2013, 5, 1) }, 1);
    fold.flush();
    fold.fold({ ...base, intervalStart: Date.UTC(2013, 0, 1) }, 2);
    const dirty = fold.flush().partials.filter((p) => p.view === 'meter_15m' && p.grain === 'month');
    expect(dirty.map((p) => p.bucket)).toEqual([Date.UTC(2013, 0, 1)]);
  });

  describe('finest-grain meter rows, dropped from memory once flushed', () => {
    const row15 = (partials: { view: string; grain: string; bucket: number }[], bucket: number) =>
      partials.find((p) => p.view === 'meter_15m' && p.grain === '15m' && p.bucket === bucket);

    it('rebuilds the row with every channel of the meter when a correction comes for one of them', () => {
      const fold = newFold();
      fold.fold({ ...base, value: 0.5 }, 1);
      fold.fold({ ...base, channel: 'export', value: 0.2 }, 2);
      expect(row15(fold.flush().partials, base.intervalStart)).toMatchObject({ values: { importKwh: 0.5, exportKwh: 0.2 } });
      fold.fold({ ...base, value: 0.7, correction: true }, 3);
      const again = row15(fold.flush().partials, base.intervalStart);
      expect(again).toMatchObject({ removed: false, values: { importKwh: 0.7, exportKwh: 0.2, readingCount: 2 } });
      expect(fold.flush().partials).toEqual([]);
      expect(fold.snapshot(meter15m, '15m').map((r) => r.values.importKwh)).toEqual([0.7]);
    });

    it('removes the stored row when the only fact of its bucket goes away', () => {
      // M3 reads a register: the read at 00:30 makes a fact (its difference to 00:00) until a
      // correction turns 00:00 into an interval reading, which leaves 00:30 without predecessor.
      const reg = registerRead;
      const fold = newFold();
      fold.fold(reg(0, 100), 1);
      fold.fold(reg(30, 101.5), 2);
      expect(row15(fold.flush().partials, reg(30, 0).intervalStart)).toMatchObject({ values: { importKwh: 1.5 } });
      fold.fold(reg(0, 0.4, 'interval', true), 3);
      const partials = fold.flush().partials;
      expect(row15(partials, reg(30, 0).intervalStart)).toMatchObject({ removed: true });
      expect(row15(partials, reg(0, 0).intervalStart)).toMatchObject({ removed: false, values: { importKwh: 0.4 } });
      expect(fold.snapshot(meter15m, '15m').map((r) => r.bucket)).toEqual([reg(0, 0).intervalStart]);
    });
  });

  it('rejects a meter that is not in the registry with a typed error', () => {
    expect(() => newFold().fold({ ...base, meterId: 'nope' }, 1)).toThrow(expect.objectContaining({ code: 'MF_FOLD_UNKNOWN_METER' }));
  });
});

describe('ViewFold properties', () => {
  it('gives the same partials for any arrival order of the same copies (duplicates, corrections, registers, DST)', () => {
    fc.assert(
      fc.property(logAndPermutationArb, ([log, permuted]) => {
        const a = newFold();
        for (const r of log) a.fold(r.reading, r.offset);
        const b = newFold();
        for (const r of permuted) b.fold(r.reading, r.offset);
        expect(snapshotAll(b)).toEqual(snapshotAll(a));
      }),
      { numRuns: 60 },
    );
  });

  it('flushes absolute partials: applying every flush as an upsert reproduces the state; replaying the log changes nothing', () => {
    fc.assert(
      fc.property(loggedReadingsArb, fc.integer({ min: 1, max: 7 }), (log, every) => {
        const fold = newFold();
        const store = new Map<string, ViewRow>();
        const apply = () => {
          const batch = fold.flush();
          for (const p of batch.partials) {
            const id = `${p.view}|${p.grain}|${p.key}|${p.bucket}`;
            if (p.removed) store.delete(id);
            else store.set(id, { view: p.view, grain: p.grain, key: p.key, bucket: p.bucket, states: p.states, values: p.values });
          }
          return batch;
        };
        log.forEach((r, i) => {
          fold.fold(r.reading, r.offset);
          if (i % every === 0) apply();
        });
        const last = apply();
        expect(last.throughOffset).toBe(Math.max(...log.map((r) => r.offset)));
        const sortRows = (rows: ViewRow[]) =>
          [...rows].sort((x, y) => `${x.view}|${x.grain}|${x.key}|${x.bucket}`.localeCompare(`${y.view}|${y.grain}|${y.key}|${y.bucket}`));
        expect(sortRows([...store.values()])).toEqual(sortRows(snapshotAll(fold)));
        // At-least-once delivery: a replay of the whole log is a no-op.
        const before = snapshotAll(fold);
        for (const r of log) fold.fold(r.reading, r.offset);
        expect(snapshotAll(fold)).toEqual(before);
        expect(fold.flush().partials).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });

  it('a restart that rebuilds up to the checkpoint silently (markClean) and writes only later changes keeps the store exact', () => {
    fc.assert(
      fc.property(loggedReadingsArb, fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 5 }), (log, cutAt, every) => {
        const upsert = (store: Map<string, ViewRow>, fold: ViewFold) => {
          for (const p of fold.flush().partials) {
            const id = `${p.view}|${p.grain}|${p.key}|${p.bucket}`;
            if (p.removed) store.delete(id);
            else store.set(id, { view: p.view, grain: p.grain, key: p.key, bucket: p.bucket, states: p.states, values: p.values });
          }
        };
        const cut = Math.floor((cutAt / 100) * log.length);
        // The first process folds and flushes through `cut`, then dies.
        const store = new Map<string, ViewRow>();
        const first = newFold();
        for (const r of log.slice(0, cut)) first.fold(r.reading, r.offset);
        upsert(store, first);
        // The next one rebuilds the same prefix in memory, writes nothing for it, then goes on.
        const next = newFold();
        for (const r of log.slice(0, cut)) next.fold(r.reading, r.offset);
        next.markClean();
        expect(next.flush().partials).toEqual([]);
        log.slice(cut).forEach((r, i) => {
          next.fold(r.reading, r.offset);
          if (i % every === 0) upsert(store, next);
        });
        upsert(store, next);
        const sortRows = (rows: ViewRow[]) =>
          [...rows].sort((x, y) => `${x.view}|${x.grain}|${x.key}|${x.bucket}`.localeCompare(`${y.view}|${y.grain}|${y.key}|${y.bucket}`));
        expect(sortRows([...store.values()])).toEqual(sortRows(snapshotAll(next)));
      }),
      { numRuns: 40 },
    );
  });

  it('has the same keys and buckets as the reference evaluator', () => {
    fc.assert(
      fc.property(loggedReadingsArb, (log) => {
        const fold = newFold();
        for (const r of log) fold.fold(r.reading, r.offset);
        const ids = (rows: ViewRow[]) => rows.map((r) => `${r.key}@${r.bucket}`);
        expect(ids(fold.snapshot(meter15m, 'local-day'))).toEqual(ids(evaluateView(meter15m, 'local-day', log, meters)));
      }),
      { numRuns: 30 },
    );
  });
});

describe('ViewFold bounded flush', () => {
  it('hands out the dirty rows in slices whose concatenation is the one big flush', () => {
    fc.assert(
      fc.property(loggedReadingsArb, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 9 }), (log, limit, every) => {
        const whole = newFold();
        const sliced = newFold();
        const compare = () => {
          const big = whole.flush();
          expect(big.remaining).toBe(0);
          const slices: typeof big.partials = [];
          for (;;) {
            const batch = sliced.flush(limit);
            expect(batch.partials.length).toBeLessThanOrEqual(limit);
            expect(batch.throughOffset).toBe(big.throughOffset);
            slices.push(...batch.partials);
            if (batch.remaining === 0) break;
            expect(batch.partials.length).toBe(limit);
          }
          expect(slices).toEqual(big.partials);
        };
        log.forEach((r, i) => {
          whole.fold(r.reading, r.offset);
          sliced.fold(r.reading, r.offset);
          if (i % every === 0) compare();
        });
        compare();
      }),
      { numRuns: 40 },
    );
  });

  it('keeps rows changed between slices dirty until handed out, with their latest absolute state', () => {
    const fold = newFold();
    for (let i = 0; i < 8; i++) fold.fold({ ...base, intervalStart: base.intervalStart + i * 1_800_000 }, i);
    const first = fold.flush(3);
    expect(first.partials).toHaveLength(3);
    expect(first.remaining).toBeGreaterThan(0);
    fold.fold({ ...base, value: 2, correction: true }, 20);
    const rest = fold.flush();
    expect(rest.remaining).toBe(0);
    expect(rest.throughOffset).toBe(20);
    const day = rest.partials.find((p) => p.view === 'meter_15m' && p.grain === 'day');
    expect(day?.values.importKwh).toBe(0.5 * 7 + 2);
    expect(fold.flush(5).partials).toEqual([]);
    expect(() => fold.flush(-1)).toThrow();
  });
});

describe('ViewFold across the batch boundary (prime)', () => {
  const reg = (minutes: number, value: number): MeterReading => ({
    ...base,
    meterId: 'M3',
    kind: 'register',
    intervalStart: Date.UTC(2013, 0, 1, 0, minutes),
    value,
  });

  it('counts a re-send of a batch reading once and takes a register predecessor from the batch', () => {
    const fold = newFold();
    fold.prime(base, 1);
    fold.prime(reg(0, 100), 2);
    expect(fold.fold(base, 10)).toBe('ignored');
    fold.fold(reg(30, 101.5), 11);
    const rows = fold.snapshot(meter15m, 'day');
    expect(rows.map((r) => [r.key, r.values.importKwh, r.values.readingCount])).toEqual([['meter=M3', 1.5, 1]]);
    expect(fold.flush().batchConflicts).toBe(0);
  });

  it('reports a correction of a batch reading as a conflict (batch ⊕ speed cannot retract it)', () => {
    const fold = newFold();
    fold.prime(base, 1);
    fold.fold({ ...base, value: 0.7, correction: true }, 10);
    expect(fold.flush().batchConflicts).toBe(1);
  });

  it('batch(≤ B) ⊕ speed(> B, primed with ≤ B) equals the whole log whenever no conflict is reported', () => {
    let checked = 0;
    fc.assert(
      fc.property(loggedReadingsArb, fc.integer({ min: 0, max: 100 }), (log, cut) => {
        const offsets = log.map((r) => r.offset);
        const b = Math.min(...offsets) + ((Math.max(...offsets) - Math.min(...offsets)) * cut) / 100;
        const fold = newFold();
        for (const r of log) if (r.offset <= b) fold.prime(r.reading, r.offset);
        for (const r of log) if (r.offset > b) fold.fold(r.reading, r.offset);
        if (fold.flush().batchConflicts > 0) return;
        checked++;
        for (const view of VIEWS) {
          for (const grain of view.grains) {
            const merged = new Map<string, { key: string; bucket: number; states: MeasureStates }>();
            const batch = evaluateView(
              view,
              grain,
              log.filter((r) => r.offset <= b),
              meters,
            );
            for (const row of [...batch, ...fold.snapshot(view, grain)]) {
              const id = `${row.key}@${row.bucket}`;
              const seen = merged.get(id);
              merged.set(id, { key: row.key, bucket: row.bucket, states: seen ? plusStates(view, seen.states, row.states) : row.states });
            }
            const whole = evaluateView(view, grain, log, meters);
            const got = [...merged.values()].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : x.bucket - y.bucket));
            expect(got.map((r) => `${r.key}@${r.bucket}`)).toEqual(whole.map((r) => `${r.key}@${r.bucket}`));
            got.forEach((row, i) => {
              const values = finalizeStates(view, row.states);
              for (const [name, want] of Object.entries(whole[i]?.values ?? {})) {
                if (want === null) expect(values[name]).toBeNull();
                else expect(values[name]).toBeCloseTo(want, 9);
              }
            });
          }
        }
      }),
      { numRuns: 40 },
    );
    // Not vacuous: most generated logs have no conflict across the cut.
    expect(checked).toBeGreaterThan(10);
  });
});
