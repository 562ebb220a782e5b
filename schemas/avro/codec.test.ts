import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, MeterflowError } from '../../core/errors.ts';
import type { MeterReading } from '../reading.ts';
import {
  decodeDeadLetter,
  decodeMessage,
  decodeReading,
  decodeViewChange,
  encodeDeadLetter,
  encodeMessage,
  encodeReading,
  encodeViewChange,
} from './codec.ts';
import { MAGIC } from './framing.ts';
import { schemaFamily } from './registry.ts';
import type { DeadLetter, ViewChange } from './types.ts';

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

const readingV1 = fixture<Omit<MeterReading, 'correction'>>('meter-reading.v1.json');
const readingV2 = fixture<MeterReading>('meter-reading.v2.json');
const deadLetters = fixture<(Omit<DeadLetter, 'original'> & { originalBase64: string })[]>('dead-letter.v1.json').map(
  ({ originalBase64, ...rest }): DeadLetter => ({ ...rest, original: Buffer.from(originalBase64, 'base64') }),
);
const viewChanges = fixture<ViewChange[]>('view-change.v1.json');

function codeOf(fn: () => unknown): ErrorCode | 'no error' | 'not a MeterflowError' {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return err instanceof MeterflowError ? err.code : 'not a MeterflowError';
  }
}

describe('MeterReading codec', () => {
  it('round-trips the v2 fixture', () => {
    expect({ ...decodeReading(encodeReading(readingV2)) }).toEqual(readingV2);
  });

  it('frames with magic, type id 1 and the newest version', () => {
    const buf = encodeReading(readingV2);
    expect([...buf.subarray(0, 3)]).toEqual([MAGIC, 1, schemaFamily('MeterReading').latest]);
    expect(schemaFamily('MeterReading').latest).toBe(2);
  });

  it('reads a v1 message: the added field takes its default, the old enum symbols still resolve', () => {
    const v1bytes = encodeMessage('MeterReading', readingV1, 1);
    expect(v1bytes[2]).toBe(1);
    expect({ ...decodeReading(v1bytes) }).toEqual({ ...readingV1, correction: false });
  });

  it('reads every v1 quality symbol into the widened v2 enum', () => {
    for (const quality of ['actual', 'estimated'] as const) {
      expect(decodeReading(encodeMessage('MeterReading', { ...readingV1, quality }, 1)).quality).toBe(quality);
    }
  });

  it('keeps the widening one-way: a v1 reader cannot read the new symbol (so consumers upgrade first)', () => {
    const v1 = schemaFamily('MeterReading').typeOf(1);
    const v2 = schemaFamily('MeterReading').typeOf(2);
    if (v1 === undefined || v2 === undefined) throw new Error('missing versions');
    const body = v2.toBuffer(readingV2); // quality 'edited'
    expect(() => v1.fromBuffer(body, v1.createResolver(v2))).toThrow();
  });

  it('carries non-finite values through, so validation (not the codec) rejects them', () => {
    expect(decodeReading(encodeReading({ ...readingV2, value: Number.NaN })).value).toBeNaN();
  });

  it('refuses to encode a reading that does not fit, naming the field', () => {
    const bad = { ...readingV2, channel: 'sideways' } as unknown as MeterReading;
    expect(codeOf(() => encodeReading(bad))).toBe('MF_SCHEMA_ENCODE_FAILED');
    expect(() => encodeReading(bad)).toThrow(/channel/);
  });
});

describe('DeadLetter codec', () => {
  it.each(deadLetters.map((d) => [d.reason, d] as const))('round-trips fixture %s', (_reason, letter) => {
    const back = decodeDeadLetter(encodeDeadLetter(letter));
    expect({ ...back, original: Buffer.from(back.original) }).toEqual(letter);
    expect(back.original.equals(letter.original)).toBe(true);
  });
});

describe('ViewChange codec', () => {
  it.each(viewChanges.map((v) => [v.view, v] as const))('round-trips fixture %s', (_view, change) => {
    expect({ ...decodeViewChange(encodeViewChange(change)) }).toEqual(change);
  });
});

describe('garbage in, typed error out', () => {
  const good = encodeReading(readingV2);

  it('empty and too-short buffers', () => {
    expect(codeOf(() => decodeReading(Buffer.alloc(0)))).toBe('MF_SCHEMA_DECODE_FAILED');
    expect(codeOf(() => decodeReading(Buffer.from([MAGIC, 1])))).toBe('MF_SCHEMA_DECODE_FAILED');
  });

  it('header only, no body', () => {
    expect(codeOf(() => decodeReading(good.subarray(0, 3)))).toBe('MF_SCHEMA_DECODE_FAILED');
  });

  it('every truncation of a good message', () => {
    for (let n = 0; n < good.length; n++) {
      expect(codeOf(() => decodeReading(good.subarray(0, n)))).toBe('MF_SCHEMA_DECODE_FAILED');
    }
  });

  it('trailing bytes after a good message', () => {
    expect(codeOf(() => decodeReading(Buffer.concat([good, Buffer.from([0])])))).toBe('MF_SCHEMA_DECODE_FAILED');
  });

  it('wrong magic', () => {
    const bad = Buffer.from(good);
    bad[0] = 0x00; // e.g. a Confluent-framed message
    expect(codeOf(() => decodeReading(bad))).toBe('MF_SCHEMA_BAD_MAGIC');
    expect(codeOf(() => decodeReading(Buffer.from('{"meterId":"x"}')))).toBe('MF_SCHEMA_BAD_MAGIC');
  });

  it('unknown versions', () => {
    for (const version of [0, 3, 255]) {
      const bad = Buffer.from(good);
      bad[2] = version;
      expect(codeOf(() => decodeReading(bad))).toBe('MF_SCHEMA_UNKNOWN_VERSION');
    }
  });

  it('a message of another type', () => {
    expect(codeOf(() => decodeReading(encodeViewChange(viewChanges[0] as ViewChange)))).toBe('MF_SCHEMA_WRONG_TYPE');
    expect(codeOf(() => decodeDeadLetter(good))).toBe('MF_SCHEMA_WRONG_TYPE');
  });

  it('random bytes never escape as anything but a MeterflowError', () => {
    const codes = new Set<string>();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, framed) => {
        // Half the time put a valid header on random bytes, so the Avro decoder itself is exercised.
        const buf = framed ? Buffer.concat([Buffer.from([MAGIC, 1, 2]), bytes]) : Buffer.from(bytes);
        for (const name of ['MeterReading', 'DeadLetter', 'ViewChange'] as const) {
          const code = codeOf(() => decodeMessage(name, buf));
          codes.add(code);
          expect(code).not.toBe('not a MeterflowError');
        }
      }),
      { numRuns: 2000, seed: 42 },
    );
    expect(codes.has('MF_SCHEMA_DECODE_FAILED')).toBe(true);
  });
});
