import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReadingJson, parseReadingJsonLine } from './parse-reading-json.ts';

const body = { meterId: 'm1', intervalStart: '2024-06-01T10:00:00Z', intervalMinutes: 30, value: 0.4 };

describe('parseReadingJson', () => {
  it('fills defaults and takes the source from the caller', () => {
    expect(parseReadingJson(body, 'http:demo')).toEqual({
      ok: true,
      reading: {
        meterId: 'm1',
        intervalStart: Date.UTC(2024, 5, 1, 10),
        intervalMinutes: 30,
        channel: 'import',
        kind: 'interval',
        value: 0.4,
        quality: 'actual',
        correction: false,
        source: 'http:demo',
      },
    });
  });

  it('accepts epoch milliseconds and an explicit offset', () => {
    const a = parseReadingJson({ ...body, intervalStart: Date.UTC(2024, 5, 1, 10) }, 's');
    const b = parseReadingJson({ ...body, intervalStart: '2024-06-01T12:00:00+02:00' }, 's');
    expect(a.ok && b.ok && a.reading.intervalStart === b.reading.intervalStart).toBe(true);
  });

  it.each([
    [{ ...body, value: '0.4' }, /field value/],
    [{ ...body, value: null }, /field value/],
    [{ ...body, meterId: '' }, /field meterId/],
    [{ ...body, intervalStart: '2024-06-01 10:00' }, /field intervalStart/],
    [{ ...body, intervalStart: '2024-06-01T10:00:00' }, /field intervalStart/], // no zone: refused, not guessed
    [{ ...body, channel: 'both' }, /field channel/],
    [{ ...body, vaule: 1 }, /vaule/],
    [[], /reading/],
    ['x', /reading/],
  ])('MALFORMED naming the field: %j', (input, message) => {
    const res = parseReadingJson(input, 's');
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.reason).toBe('MALFORMED');
      expect(res.message).toMatch(message);
    }
  });

  it('NDJSON lines: bad JSON is MALFORMED', () => {
    expect(parseReadingJsonLine(JSON.stringify(body), 's').ok).toBe(true);
    expect(parseReadingJsonLine('{"meterId":', 's')).toMatchObject({ ok: false, reason: 'MALFORMED' });
  });

  it('lets a value JSON made infinite (1e999) through, for validateReading to refuse as NOT_FINITE', () => {
    const line = JSON.stringify(body).replace('0.4', '1e999');
    expect(parseReadingJsonLine(line, 's')).toMatchObject({ ok: true, reading: { value: Number.POSITIVE_INFINITY } });
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.json()), (input) => {
        const res = typeof input === 'string' ? parseReadingJsonLine(input, 's') : parseReadingJson(input, 's');
        expect(typeof res.ok).toBe('boolean');
      }),
      { numRuns: 1000, seed: 3 },
    );
  });
});
