import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { decodeDeadLetter, decodeReading } from '../schemas/avro/codec.ts';
import type { Meter, MeterReading } from '../schemas/reading.ts';
import { cliEnv, runCli } from '../test/support/cli.ts';
import { DATA_DIR } from '../test/support/data-dir.ts';
import { consumeAll, topicMessageCount, withFreshTopics } from '../test/support/kafka-helpers.ts';
import { testConfig } from '../test/support/test-config.ts';
import { createIngestPipeline } from './pipeline/create-pipeline.ts';
import type { IngestOutcome } from './pipeline/ingest-pipeline.ts';
import { replayFiles } from './replay/replay.ts';
import { replayFileList } from './replay/replay-files.ts';
import { ausgridMeters, lclMeters, opsdMeters } from './sources/index.ts';
import { parseReadingJson } from './validation/index.ts';

// Every input path ends on the real broker: readings on the readings topic, everything refused on
// the dead-letter topic with its reason and original bytes, and the counts add up.
const DATA = DATA_DIR;
const log = createLogger('test-ingest', 'warn');
// The real data is from 2011–2014: accept history for these tests.
const base = testConfig({ ingest: { retentionDays: 36_500, batchSize: 5_000 } });

async function replayDataset(format: 'lcl' | 'opsd' | 'ausgrid', path: string, meters: Meter[], only?: (f: string) => boolean) {
  const config = await withFreshTopics(base);
  const files = (await replayFileList(path)).filter((f) => only?.(f) ?? true);
  const { pipeline, transport } = await createIngestPipeline(config, log, new Map(meters.map((m) => [m.meterId, m])));
  try {
    const result = await replayFiles(files, format, pipeline);
    return { config, result, files };
  } finally {
    await transport.disconnect();
  }
}

function dataLines(files: string[]): number {
  return files.reduce((n, f) => n + readFileSync(f, 'utf8').trimEnd().split('\n').length - 1, 0);
}

describe('replay of the real data sets into Kafka', () => {
  let lcl: Meter[];
  beforeAll(async () => {
    lcl = await lclMeters(join(DATA, 'lcl-2013-households.csv'));
  });

  it('LCL 2013 (every 10th household): every row accepted, counts equal to the topic', async () => {
    const { config, result, files } = await replayDataset(
      'lcl',
      join(DATA, 'lcl-2013'),
      lcl,
      (f) => Number(/MAC0*(\d+)/.exec(f)?.[1]) % 10 === 2,
    );
    expect(files.length).toBe(readdirSync(join(DATA, 'lcl-2013')).filter((f) => Number(/MAC0*(\d+)/.exec(f)?.[1]) % 10 === 2).length);
    expect(result.items).toBe(dataLines(files));
    expect(result.accepted + result.deadLettered).toBe(result.items);
    expect(await topicMessageCount(config, config.kafka.topics.readings.name)).toBe(result.accepted);
    expect(await topicMessageCount(config, config.kafka.topics.deadLetters.name)).toBe(result.deadLettered);
    expect(result.accepted).toBeGreaterThan(150_000);
  });

  it('LCL raw MAC000002: the Null row is dead-lettered with its original bytes; duplicates pass through', async () => {
    const { config, result, files } = await replayDataset('lcl', join(DATA, 'lcl-raw', 'MAC000002.csv'), lcl);
    expect(result.items).toBe(dataLines(files));
    expect(result.accepted + result.deadLettered).toBe(result.items);
    expect(result.byReason.NOT_FINITE).toBe(1);
    const letters = (await consumeAll(config, config.kafka.topics.deadLetters.name, result.deadLettered)).map((m) =>
      decodeDeadLetter(m.value),
    );
    const nullRow = letters.find((l) => l.reason === 'NOT_FINITE');
    expect(nullRow?.original.toString()).toContain('Null');
    expect(nullRow?.origin).toMatchObject({ kind: 'file', file: 'MAC000002.csv' });
    expect(nullRow?.message).toMatch(/missing/);
    expect(await topicMessageCount(config, config.kafka.topics.readings.name)).toBe(result.accepted);
  });

  it('OPSD households (cumulative registers, import/export/PV): counts add up, registers never go backwards', async () => {
    const meters = await opsdMeters(join(DATA, 'opsd-households'));
    const { config, result } = await replayDataset('opsd', join(DATA, 'opsd-households'), meters);
    expect(result.accepted + result.deadLettered).toBe(result.items);
    expect(result.byReason.REGISTER_BACKWARDS ?? 0).toBe(0);
    expect(await topicMessageCount(config, config.kafka.topics.readings.name)).toBe(result.accepted);
    expect(result.accepted).toBeGreaterThan(100_000);
  });

  it('Ausgrid solar home (local Sydney time with DST): nonexistent local times dead-lettered, the rest accepted', async () => {
    const file = join(DATA, 'ausgrid-solar-home', 'customer12_2011-2012.csv');
    const meters = await ausgridMeters(file);
    const { config, result } = await replayDataset('ausgrid', file, meters);
    expect(result.accepted + result.deadLettered).toBe(result.items);
    expect(result.byReason.NONEXISTENT_LOCAL_TIME).toBe(4);
    const readings = (await consumeAll(config, config.kafka.topics.readings.name, result.accepted)).map((m) => decodeReading(m.value));
    expect(readings).toHaveLength(result.accepted);
    expect(new Set(readings.map((r) => r.channel))).toEqual(new Set(['import', 'export']));
  });
});

describe('every validation rule ends on the dead-letter topic with its reason and the original bytes', () => {
  let config: Config;
  const now = Date.UTC(2026, 5, 1, 12, 0);
  const meter: Meter = {
    meterId: 'vee:m1',
    siteId: 'vee:s1',
    region: 'Test',
    timeZone: 'Europe/London',
    tariff: 'flat',
    ratedKw: 10,
    readingKind: 'interval',
    intervalMinutes: 30,
  };
  const registerMeter: Meter = { ...meter, meterId: 'vee:r1', readingKind: 'register' };
  const good = (over: Partial<MeterReading> = {}): MeterReading => ({
    meterId: meter.meterId,
    intervalStart: now - 3_600_000,
    intervalMinutes: 30,
    channel: 'import',
    kind: 'interval',
    value: 0.4,
    quality: 'actual',
    source: 'test',
    correction: false,
    ...over,
  });
  beforeAll(async () => {
    // The default retention horizon (400 days), so that 1970 is TOO_OLD.
    config = await withFreshTopics(testConfig());
  });

  it('sends each bad reading to the dead-letter topic and every good one to the readings topic', async () => {
    const { pipeline, transport } = await createIngestPipeline(
      config,
      log,
      new Map([
        [meter.meterId, meter],
        [registerMeter.meterId, registerMeter],
      ]),
      { now: () => now },
    );
    const cases: [string, MeterReading][] = [
      ['UNKNOWN_METER', good({ meterId: 'vee:nobody' })],
      ['FUTURE_TIMESTAMP', good({ intervalStart: now + 3_600_000 })],
      ['TOO_OLD', good({ intervalStart: Date.UTC(1970, 0, 1) })],
      ['MISALIGNED_INTERVAL', good({ intervalStart: now - 3_600_000 + 7 * 60_000 })],
      ['INTERVAL_LENGTH_MISMATCH', good({ intervalMinutes: 15 })],
      ['KIND_MISMATCH', good({ kind: 'register' })],
      ['NEGATIVE_VALUE', good({ value: -0.1 })],
      ['NOT_FINITE', good({ value: Number.NaN })],
      ['NOT_FINITE', good({ value: Number.POSITIVE_INFINITY })],
      ['SPIKE_OVER_RATED', good({ value: 6 })],
    ];
    const outcomes: Promise<IngestOutcome>[] = [];
    const goodOnes = [good({ intervalStart: now - 7_200_000 }), good({ intervalStart: now - 5_400_000 })];
    outcomes.push(pipeline.enqueue({ reading: goodOnes[0] as MeterReading, source: 'test', origin: null }));
    for (const [, r] of cases)
      outcomes.push(pipeline.enqueue({ reading: r, raw: Buffer.from(`raw:${JSON.stringify(r)}`), source: 'test', origin: null }));
    // Register going backwards: 100 then 90 kWh.
    const reg = (start: number, value: number) =>
      good({ meterId: registerMeter.meterId, kind: 'register', intervalStart: start, value, source: 'test' });
    outcomes.push(pipeline.enqueue({ reading: reg(now - 7_200_000, 100), source: 'test', origin: null }));
    outcomes.push(pipeline.enqueue({ reading: reg(now - 5_400_000, 90), source: 'test', origin: null }));
    // Malformed input at the JSON edge: the parser's refusal goes the same way.
    const parsed = parseReadingJson({ meterId: 42, intervalStart: 'yesterday' }, 'test');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      outcomes.push(
        pipeline.enqueue({
          reject: { reason: parsed.reason, message: parsed.message, raw: Buffer.from('{"meterId":42}') },
          source: 'test',
          origin: null,
        }),
      );
    }
    outcomes.push(pipeline.enqueue({ reading: goodOnes[1] as MeterReading, source: 'test', origin: null }));
    const settled = await Promise.all(outcomes);
    await transport.disconnect();

    const expectedReasons = [...cases.map(([reason]) => reason), 'REGISTER_BACKWARDS', 'MALFORMED'].sort();
    expect(settled.filter((o) => o.status === 'accepted')).toHaveLength(3);
    const letters = (await consumeAll(config, config.kafka.topics.deadLetters.name, expectedReasons.length)).map((m) =>
      decodeDeadLetter(m.value),
    );
    expect(letters.map((l) => l.reason).sort()).toEqual(expectedReasons);
    for (const [reason, r] of cases) {
      const letter = letters.find((l) => l.reason === reason && l.original.toString() === `raw:${JSON.stringify(r)}`);
      expect(letter, `dead letter for ${reason}`).toBeDefined();
      expect(letter?.message.length).toBeGreaterThan(10);
    }
    expect(letters.find((l) => l.reason === 'MALFORMED')?.original.toString()).toBe('{"meterId":42}');
    const accepted = (await consumeAll(config, config.kafka.topics.readings.name, 3)).map((m) => decodeReading(m.value));
    expect(accepted.map((r) => r.intervalStart).sort()).toEqual([now - 7_200_000, now - 7_200_000, now - 5_400_000].sort());
  });
});

describe('meterflow ingest simulate (the real CLI)', () => {
  it('produces a seeded fleet with injected bad values; accepted + dead-lettered = produced', async () => {
    const config = await withFreshTopics(base);
    const env = cliEnv(config);
    const r = await runCli(
      [
        'ingest',
        'simulate',
        '--meters',
        '40',
        '--interval',
        '30',
        '--from',
        '2026-03-01T00:00:00Z',
        '--to',
        '2026-03-03T00:00:00Z',
        '--seed',
        '7',
        '--faults',
        'bad=0.02,dup=0.01',
        '--json',
      ],
      { env },
    );
    expect(r.stderr).not.toMatch(/MF_/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    expect(summary.produced).toBe(summary.accepted + summary.deadLettered);
    expect(summary.deadLettered).toBe(summary.faults['bad-value']);
    expect(summary.faults['bad-value']).toBeGreaterThan(0);
    expect(await topicMessageCount(config, config.kafka.topics.readings.name)).toBe(summary.accepted);
    expect(await topicMessageCount(config, config.kafka.topics.deadLetters.name)).toBe(summary.deadLettered);
  });
});

describe('meterflow meters import | list (the real CLI, real Cassandra)', () => {
  const env = cliEnv(base);

  it('imports the LCL households and lists them back', async () => {
    const r = await runCli(['meters', 'import', '--dataset', 'lcl', join(DATA, 'lcl-2013-households.csv')], { env });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('imported 100 meters\n');
    const list = await runCli(['meters', 'list', '--json'], { env });
    const meters = JSON.parse(list.stdout) as Meter[];
    const lclIds = meters.filter((m) => m.meterId.startsWith('lcl:'));
    expect(lclIds).toHaveLength(100);
    expect(lclIds.find((m) => m.meterId === 'lcl:MAC000002')).toMatchObject({
      timeZone: 'Europe/London',
      intervalMinutes: 30,
      readingKind: 'interval',
    });
  });

  it('refuses a bad registry file, naming the line and field, and imports nothing', async () => {
    const r = await runCli(['meters', 'import', join(DATA, 'lcl-2013', 'MAC000002.csv')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MF_BAD_REQUEST: meter file .* has \d+ problem/);
  });
});
