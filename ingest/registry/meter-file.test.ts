import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMeterFile } from './meter-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-meters-'));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const HEADER = 'meterId,siteId,region,timeZone,tariff,ratedKw,readingKind,intervalMinutes\n';

describe('readMeterFile', () => {
  it('reads CSV and JSON registries', async () => {
    const csv = write(
      'ok.csv',
      `${HEADER}m1,s1,London,Europe/London,flat,12,interval,30\nm2,s1,London,Europe/London,tou,7.5,register,60\n`,
    );
    expect(await readMeterFile(csv)).toEqual([
      {
        meterId: 'm1',
        siteId: 's1',
        region: 'London',
        timeZone: 'Europe/London',
        tariff: 'flat',
        ratedKw: 12,
        readingKind: 'interval',
        intervalMinutes: 30,
      },
      {
        meterId: 'm2',
        siteId: 's1',
        region: 'London',
        timeZone: 'Europe/London',
        tariff: 'tou',
        ratedKw: 7.5,
        readingKind: 'register',
        intervalMinutes: 60,
      },
    ]);
    const json = write(
      'ok.json',
      JSON.stringify([
        { meterId: 'm3', siteId: 's', region: 'r', timeZone: 'UTC', tariff: 't', ratedKw: 1, readingKind: 'interval', intervalMinutes: 15 },
      ]),
    );
    expect((await readMeterFile(json))[0]?.meterId).toBe('m3');
  });

  it('reports every bad row with its line and field, and imports nothing', async () => {
    const csv = write(
      'bad.csv',
      `${HEADER}m1,s1,London,Mars/Olympus,flat,12,interval,30\nm2,s1,London,UTC,flat,-3,interval,30\nm3,s1,London,UTC,flat,5,pulse,7\nm4,s1,London,UTC,flat,5,interval,30\nm4,s1,London,UTC,flat,5,interval,30\n`,
    );
    await expect(readMeterFile(csv)).rejects.toThrow(/has 5 problem\(s\); nothing was imported/);
    await expect(readMeterFile(csv)).rejects.toThrow(/line 2: timeZone: an IANA time zone/);
    await expect(readMeterFile(csv)).rejects.toThrow(/line 3: ratedKw/);
    await expect(readMeterFile(csv)).rejects.toThrow(/line 4: readingKind/);
    await expect(readMeterFile(csv)).rejects.toThrow(/line 4: intervalMinutes: one of 1, 5, 10, 15, 30, 60/);
    await expect(readMeterFile(csv)).rejects.toThrow(/line 6: meterId m4 appears twice/);
  });

  it('rejects garbage files clearly', async () => {
    await expect(readMeterFile(write('garbage.json', '{"not": "a list"'))).rejects.toThrow(/is not valid JSON/);
    await expect(readMeterFile(write('object.json', '{"meterId": "x"}'))).rejects.toThrow(/must hold an array/);
    await expect(readMeterFile(write('extra.json', JSON.stringify([{ meterId: 'x', colour: 'red' }])))).rejects.toThrow(/item 1: .*colour/);
    await expect(readMeterFile(join(dir, 'missing.csv'))).rejects.toThrow(/cannot read meter file/);
    await expect(readMeterFile(write('binary.csv', '\u0000\u0001\u0002,\u00ff\n'))).rejects.toThrow(/holds no meters/);
  });
});
