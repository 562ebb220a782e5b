import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFaults, parsePace } from '../../cli/ingest-commands.ts';
import { readColumnMapping } from './column-mapping.ts';
import { replayFileList } from './replay-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-mapping-'));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('replay and simulate options', () => {
  it('reads a valid column mapping and names every bad key of a wrong one', async () => {
    const ok = write('ok.json', JSON.stringify({ meter: 'id', time: 'ts', value: 'kwh', timeFormat: 'iso', intervalMinutes: 30 }));
    expect(await readColumnMapping(ok)).toMatchObject({ meter: 'id', intervalMinutes: 30 });
    const bad = write(
      'bad.json',
      JSON.stringify({ meter: 'id', time: 'ts', value: 'kwh', timeFormat: 'rfc', intervalMinutes: -1, colour: 1 }),
    );
    await expect(readColumnMapping(bad)).rejects.toThrow(/timeFormat/);
    await expect(readColumnMapping(bad)).rejects.toThrow(/intervalMinutes/);
    await expect(readColumnMapping(bad)).rejects.toThrow(/colour: unknown key; allowed: meter, time, value/);
    await expect(readColumnMapping(write('garbage.json', 'not json'))).rejects.toThrow(/cannot read the column mapping/);
  });

  it('parses paces and fault specs, rejecting nonsense with the allowed forms', () => {
    expect(parsePace('fast')).toEqual({ mode: 'as-fast-as-possible' });
    expect(parsePace('realtime')).toEqual({ mode: 'real-time' });
    expect(parsePace('60x')).toEqual({ mode: 'speed-up', factor: 60 });
    expect(() => parsePace('0x')).toThrow(/use fast, realtime or a speed-up such as 60x/);
    expect(() => parsePace('warp')).toThrow(/--pace warp/);
    expect(parseFaults('dup=0.01,bad=0.5', 3)).toEqual({ seed: 3, duplicateRate: 0.01, badValueRate: 0.5 });
    expect(() => parseFaults('dup=2', 1)).toThrow(/RATE in 0\.\.1/);
    expect(() => parseFaults('chaos=0.1', 1)).toThrow(/NAME one of dup, gap, late, bad/);
  });

  it('refuses a missing path or a folder without CSV files', async () => {
    await expect(replayFileList(join(dir, 'nope'))).rejects.toThrow(/cannot read/);
    await expect(replayFileList(dir)).rejects.toThrow(/no \.csv files/);
  });
});
