import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonErrorPosition } from './json-error-position.ts';

describe('jsonErrorPosition', () => {
  it.each([
    ['[{"a": }]', 7],
    ['[1,]', 3],
    ['[tru]', 4],
    ['{"a" 1}', 5],
    ['[1] x', 4],
    ['', 0],
    ['[1,2', 4],
  ])('%j fails at %i', (text, at) => expect(jsonErrorPosition(text)).toBe(at));

  it('finds no error in valid JSON', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(jsonErrorPosition(text)).toBeUndefined();
      }),
      { numRuns: 500, seed: 1 },
    );
  });

  it('agrees with JSON.parse wherever V8 names the position', () => {
    const mangled = fc.tuple(fc.json(), fc.nat(), fc.constantFrom('', '}', ']', ',', ':', '"', 'x', '\\', '\n')).map(([t, n, c]) => {
      const at = n % (t.length + 1);
      return t.slice(0, at) + c + t.slice(at + (n % 2));
    });
    fc.assert(
      fc.property(mangled, (text) => {
        let v8: number | undefined;
        try {
          JSON.parse(text);
          expect(jsonErrorPosition(text)).toBeUndefined();
          return;
        } catch (err) {
          const m = /at position (\d+)/.exec((err as Error).message);
          v8 = m ? Number(m[1]) : undefined;
        }
        const ours = jsonErrorPosition(text);
        expect(ours).toBeDefined();
        if (v8 !== undefined) expect(ours).toBe(v8);
      }),
      { numRuns: 2000, seed: 2 },
    );
  });
});
