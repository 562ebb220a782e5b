import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRowKey, encodeRowKey } from './row-key.ts';

describe('row keys', () => {
  it('are readable and stable', () => {
    expect(encodeRowKey(['site', 'region'], ['S1', 'London'])).toBe('site=S1|region=London');
    expect(encodeRowKey(['tariff'], ['a|b=c\\d'])).toBe('tariff=a\\|b\\=c\\\\d');
  });

  it('round-trip any values', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(decodeRowKey(encodeRowKey(['site', 'region'], [a, b]))).toEqual({ site: a, region: b });
      }),
    );
  });

  it('are injective', () => {
    fc.assert(
      fc.property(fc.tuple(fc.string(), fc.string()), fc.tuple(fc.string(), fc.string()), (x, y) => {
        fc.pre(x[0] !== y[0] || x[1] !== y[1]);
        expect(encodeRowKey(['site', 'region'], x)).not.toBe(encodeRowKey(['site', 'region'], y));
      }),
    );
  });
});
