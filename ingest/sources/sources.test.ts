import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMeterflowError } from '../../core/errors.ts';
import type { MeterReading } from '../../schemas/reading.ts';
import { DATA_DIR } from '../../test/support/data-dir.ts';
import { createValidationContext } from '../validation/context.ts';
import { validateReading } from '../validation/validate-reading.ts';
import { readAusgrid } from './ausgrid.ts';
import { readCsv } from './generic-csv.ts';
import { readLcl } from './lcl.ts';
import { readOpsd } from './opsd.ts';
import { ausgridMeters, lclMeters, opsdMeters } from './registries.ts';
import type { SourceItem } from './types.ts';

const DATA = DATA_DIR;
const LCL_2013 = join(DATA, 'lcl-2013');
const LCL_RAW = join(DATA, 'lcl-raw/MAC000002.csv');
const OPSD = join(DATA, 'opsd-households');
const AUSGRID = join(DATA, 'ausgrid-solar-home/customer12_2011-2012.csv');

async function collect(items: AsyncIterable<SourceItem>): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function dataRows(path: string): number {
  return (
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '').length - 1
  );
}

const readings = (items: SourceItem[]): MeterReading[] => items.flatMap((i) => (i.reading ? [i.reading] : []));
const rejects = (items: SourceItem[]) => items.filter((i) => i.reject !== undefined);

describe('lcl', () => {
  it('reads MAC000002 2013: one reading per row, UTC half hours starting 2013-01-01T00:00Z', async () => {
    const path = join(LCL_2013, 'MAC000002.csv');
    const items = await collect(readLcl(path));
    expect(items.length).toBe(dataRows(path));
    expect(rejects(items)).toEqual([]);
    const first = items[0];
    expect(first).toMatchObject({ file: 'MAC000002.csv', line: 2 });
    expect(first?.reading).toEqual({
      meterId: 'lcl:MAC000002',
      intervalStart: Date.UTC(2013, 0, 1, 0, 0),
      intervalMinutes: 30,
      channel: 'import',
      kind: 'interval',
      value: 0.219,
      quality: 'actual',
      source: 'replay:lcl:MAC000002.csv',
      correction: false,
    });
    expect(items.at(-1)?.reading?.intervalStart).toBe(Date.UTC(2013, 11, 31, 23, 30));
  });

  it('reads every 5th of the 100 households of 2013: rows in = readings, none rejected', async () => {
    let rows = 0;
    let count = 0;
    const files = readdirSync(LCL_2013).filter((f) => f.endsWith('.csv'));
    expect(files.length).toBe(100);
    // A sample keeps the unit run fast; the parser has no per-file state, so 20 files show what 100 would.
    for (const f of files.filter((_, i) => i % 5 === 0)) {
      rows += dataRows(join(LCL_2013, f));
      for await (const item of readLcl(join(LCL_2013, f))) {
        if (item.reject) throw new Error(`${f}:${item.line} ${item.reject.message}`);
        count++;
      }
    }
    expect(count).toBe(rows);
  }, 60_000);

  it('reads the raw MAC000002 export: the Null row is the one reject, duplicates come through', async () => {
    const items = await collect(readLcl(LCL_RAW, { sourcePrefix: 'replay:lcl-raw' }));
    expect(items.length).toBe(dataRows(LCL_RAW));
    const bad = rejects(items);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ file: 'MAC000002.csv', line: 3242, reject: { reason: 'NOT_FINITE' } });
    expect(bad[0]?.reject?.raw.toString()).toBe('MAC000002,2012-12-19 12:37:27.0000000,Null');
    expect(bad[0]?.reject?.message).toMatch(/"Null" at 2012-12-19 12:37:27/);
    const starts = readings(items).map((r) => r.intervalStart);
    expect(starts.length - new Set(starts).size).toBe(17);
    expect(starts[0]).toBe(Date.UTC(2012, 9, 12, 0, 30));
  });

  it('registry: 100 households, tariffs and Acorn groups', async () => {
    const meters = await lclMeters(join(DATA, 'lcl-2013-households.csv'));
    expect(meters).toHaveLength(100);
    expect(meters.filter((m) => m.tariff === 'lcl-tou')).toHaveLength(18);
    expect(new Set(meters.map((m) => m.region))).toEqual(
      new Set(['London/Affluent', 'London/Comfortable', 'London/Adversity', 'London/Unclassified']),
    );
    expect(meters.find((m) => m.meterId === 'lcl:MAC000005')).toMatchObject({
      tariff: 'lcl-tou',
      region: 'London/Affluent',
      timeZone: 'Europe/London',
    });
  });

  it('end to end with validation: every 2013 reading of MAC000002 passes VEE; the raw export loses only the off-grid Null row', async () => {
    const meters = await lclMeters(join(DATA, 'lcl-2013-households.csv'));
    const ctx = createValidationContext({ meters, now: () => Date.UTC(2014, 2, 1), retentionMs: 3 * 365 * 86_400_000 });
    for (const r of readings(await collect(readLcl(join(LCL_2013, 'MAC000002.csv'))))) {
      expect(validateReading(r, ctx).ok).toBe(true);
    }
    const raw = readings(await collect(readLcl(LCL_RAW)));
    expect(raw.filter((r) => !validateReading(r, ctx).ok)).toEqual([]);
  });

  it('refuses a file that is not LCL', async () => {
    await expect(collect(readLcl(AUSGRID))).rejects.toSatisfy((e) => isMeterflowError(e, 'MF_SOURCE_BAD_HEADER'));
  });
});

describe('opsd', () => {
  it('reads every household: one register reading per non-empty grid/pv cell, non-decreasing per channel', async () => {
    for (const f of readdirSync(OPSD).filter((x) => x.endsWith('.csv'))) {
      const path = join(OPSD, f);
      const lines = readFileSync(path, 'utf8').trim().split('\n');
      const header = (lines[0] ?? '').split(',');
      const channelCols = header.flatMap((h, i) => (/_(grid_import|grid_export|pv)$/.test(h) ? [i] : []));
      let cells = 0;
      for (const l of lines.slice(1)) {
        const fields = l.split(',');
        cells += channelCols.filter((i) => (fields[i] ?? '') !== '').length;
      }
      const items = await collect(readOpsd(path));
      expect(rejects(items)).toEqual([]);
      expect(items.length, f).toBe(cells);
      // Plain comparisons here: an expect() per reading would dominate the run time.
      const last = new Map<string, MeterReading>();
      const violations: string[] = [];
      for (const r of readings(items)) {
        const k = `${r.meterId}/${r.channel}`;
        const prev = last.get(k);
        if (r.kind !== 'register' || (prev && (r.intervalStart <= prev.intervalStart || r.value < prev.value)))
          violations.push(`${k} ${r.intervalStart}`);
        last.set(k, r);
      }
      expect(violations, f).toEqual([]);
    }
  });

  it('maps columns to meters: household import/export, PV as its own export meter, pv.1 ignored', async () => {
    const items = readings(await collect(readOpsd(join(OPSD, 'residential_4.csv'))));
    const byKey = new Set(items.map((r) => `${r.meterId}/${r.channel}`));
    expect(byKey).toEqual(new Set(['opsd:residential_4/import', 'opsd:residential_4/export', 'opsd:residential_4:pv/export']));
    const first = readings(await collect(readOpsd(join(OPSD, 'residential_1.csv'))))[0];
    expect(first).toMatchObject({
      meterId: 'opsd:residential_1',
      channel: 'import',
      intervalStart: Date.parse('2015-05-21T15:00:00Z'),
      value: 0.107,
      intervalMinutes: 60,
    });
  });

  it('registry: household and PV meters, all register meters in Europe/Berlin', async () => {
    const meters = await opsdMeters(OPSD);
    expect(meters.map((m) => m.meterId).sort()).toEqual(
      [
        'opsd:residential_1',
        'opsd:residential_1:pv',
        'opsd:residential_2',
        'opsd:residential_3',
        'opsd:residential_3:pv',
        'opsd:residential_4',
        'opsd:residential_4:pv',
        'opsd:residential_5',
        'opsd:residential_6',
        'opsd:residential_6:pv',
      ].sort(),
    );
    expect(meters.every((m) => m.readingKind === 'register' && m.timeZone === 'Europe/Berlin')).toBe(true);
    expect(meters.find((m) => m.meterId === 'opsd:residential_1:pv')?.siteId).toBe('opsd:residential_1');
  });

  it('every reading passes VEE, register rule included', async () => {
    const ctx = createValidationContext({
      meters: await opsdMeters(OPSD),
      now: () => Date.UTC(2019, 6, 1),
      retentionMs: 10 * 365 * 86_400_000,
    });
    for (const r of readings(await collect(readOpsd(join(OPSD, 'residential_3.csv'))))) {
      const res = validateReading(r, ctx);
      if (!res.ok) throw new Error(res.message);
    }
  });
});

describe('ausgrid', () => {
  const sydneyDate = new Intl.DateTimeFormat('en-CA', { timeZone: 'Australia/Sydney' });
  const localDay = (ms: number) => sydneyDate.format(ms);
  let cached: SourceItem[] | undefined;
  const ausgridItems = async () => {
    cached ??= await collect(readAusgrid(AUSGRID));
    return cached;
  };

  it('rows × 2 channels in = readings + rejects − the 4 extra readings of the repeated hour', async () => {
    const items = await ausgridItems();
    const rows = dataRows(AUSGRID);
    expect(rows).toBe(366 * 48);
    const bad = rejects(items);
    // Lines 4470 and 4471 are 2011-10-02 02:00 and 02:30, both 0.0 in GC and GG.
    expect(bad.map((i) => [i.line, i.reject?.reason])).toEqual([
      [4470, 'NONEXISTENT_LOCAL_TIME'],
      [4470, 'NONEXISTENT_LOCAL_TIME'],
      [4471, 'NONEXISTENT_LOCAL_TIME'],
      [4471, 'NONEXISTENT_LOCAL_TIME'],
    ]);
    expect(bad[0]?.reject?.raw.toString()).toBe('2011-10-02 02:00:00,0.0,0.0');
    expect(readings(items).length).toBe(rows * 2 - 4 + 4);
  });

  it('DST: 46 half hours on 2011-10-02, 50 on 2012-04-01 (Sydney local days), 48 otherwise', async () => {
    const items = readings(await ausgridItems());
    const perDay = new Map<string, number>();
    for (const r of items.filter((x) => x.channel === 'import'))
      perDay.set(localDay(r.intervalStart), (perDay.get(localDay(r.intervalStart)) ?? 0) + 1);
    expect(perDay.get('2011-10-02')).toBe(46);
    expect(perDay.get('2012-04-01')).toBe(50);
    expect([...perDay.entries()].filter(([d, n]) => n !== 48 && d !== '2011-10-02' && d !== '2012-04-01')).toEqual([]);
    // Sorted UTC starts: every half hour of the year exactly once, no gap or overlap across both changes.
    const starts = items
      .filter((x) => x.channel === 'import')
      .map((r) => r.intervalStart)
      .sort((a, b) => a - b);
    for (let i = 1; i < starts.length; i++) expect((starts[i] as number) - (starts[i - 1] as number)).toBe(1_800_000);
  });

  it('converts average kW to kWh, splits the repeated half hours as estimates, keeps the day total', async () => {
    const items = readings(await ausgridItems());
    expect(items[0]).toMatchObject({
      meterId: 'ausgrid:customer12',
      channel: 'import',
      value: 0.196,
      intervalStart: Date.parse('2011-06-30T14:00:00Z'),
    });
    expect(items[1]).toMatchObject({ channel: 'export', value: 0 });
    const dayImport = items.filter((r) => r.channel === 'import' && localDay(r.intervalStart) === '2012-04-01');
    const kwRows = readFileSync(AUSGRID, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('2012-04-01'));
    const expected = kwRows.reduce((s, l) => s + Number(l.split(',')[1]) * 0.5, 0);
    expect(dayImport.reduce((s, r) => s + r.value, 0)).toBeCloseTo(expected, 9);
    const estimated = dayImport.filter((r) => r.quality === 'estimated');
    expect(estimated.map((r) => new Date(r.intervalStart).toISOString())).toEqual([
      '2012-03-31T15:00:00.000Z', // 02:00 AEDT
      '2012-03-31T16:00:00.000Z', // 02:00 AEST
      '2012-03-31T15:30:00.000Z', // 02:30 AEDT
      '2012-03-31T16:30:00.000Z', // 02:30 AEST
    ]);
    expect(estimated[0]?.value).toBeCloseTo((1.092 * 0.5) / 2, 9);
  });

  it('registry and VEE: every reading passes', async () => {
    const meters = await ausgridMeters(AUSGRID);
    expect(meters).toEqual([expect.objectContaining({ meterId: 'ausgrid:customer12', timeZone: 'Australia/Sydney', intervalMinutes: 30 })]);
    const ctx = createValidationContext({ meters, now: () => Date.UTC(2012, 6, 1), retentionMs: 2 * 365 * 86_400_000 });
    const failed = readings(await ausgridItems()).filter((r) => !validateReading(r, ctx).ok);
    expect(failed).toEqual([]);
  });
});

describe('generic csv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterflow-csv-'));
  const file = join(dir, 'mixed.csv');
  writeFileSync(
    file,
    [
      'id,ts,kwh,dir',
      'a,2024-03-31T00:00:00Z,0.5,import',
      'a,2024-03-31 02:15,0.5,export', // Europe/Berlin: skipped hour
      'a,2024-10-27 02:15,0.5,import', // Europe/Berlin: repeated hour
      'a,2024-03-31 12:00,oops,import',
      'a,2024-03-31 12:00,,import',
      'b,2024-03-31 12:00,1.25,sideways',
      ',2024-03-31 12:00,1,import',
      'b,2024-03-31 12:15,1.5,EXPORT',
    ].join('\n'),
  );

  it('maps columns, reads zone-less times in the given zone, and rejects what it cannot read', async () => {
    const items = await collect(
      readCsv(file, {
        meter: 'id',
        time: 'ts',
        value: 'kwh',
        channel: 'dir',
        timeFormat: 'iso',
        timeZone: 'Europe/Berlin',
        intervalMinutes: 15,
        meterPrefix: 'x:',
      }),
    );
    expect(items.map((i) => i.reject?.reason ?? 'ok')).toEqual([
      'ok',
      'NONEXISTENT_LOCAL_TIME',
      'AMBIGUOUS_LOCAL_TIME',
      'MALFORMED',
      'NOT_FINITE',
      'MALFORMED',
      'MALFORMED',
      'ok',
    ]);
    expect(items.map((i) => i.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(items[7]?.reading).toMatchObject({
      meterId: 'x:b',
      channel: 'export',
      intervalStart: Date.parse('2024-03-31T10:15:00Z'),
      value: 1.5,
    });
  });

  it('epoch seconds, and a missing mapped column is a header error', async () => {
    const epoch = join(dir, 'epoch.csv');
    writeFileSync(epoch, 'm,t,v\nz,1700000000,2\n');
    const [item] = await collect(readCsv(epoch, { meter: 'm', time: 't', value: 'v', timeFormat: 'epoch-s', intervalMinutes: 60 }));
    expect(item?.reading?.intervalStart).toBe(1_700_000_000_000);
    await expect(
      collect(readCsv(epoch, { meter: 'm', time: 'nope', value: 'v', timeFormat: 'iso', intervalMinutes: 60 })),
    ).rejects.toSatisfy((e) => isMeterflowError(e, 'MF_SOURCE_BAD_HEADER'));
  });
});
