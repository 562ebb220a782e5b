import { describe, expect, it } from 'vitest';
import { createValidationContext } from '../../ingest/validation/context.ts';
import { REJECT_REASONS } from '../../ingest/validation/reasons.ts';
import { validateReading } from '../../ingest/validation/validate-reading.ts';
import { decodeReading } from '../../schemas/avro/codec.ts';
import { badFrameCases, badReadingCases, CORPUS_METERS, csvCorpus, goodReading, NOW, registerPrelude } from './corpus.ts';

// The corpus itself, without services: every reason code has a case, and each case is refused for
// the reason it claims (so the integration tests cannot pass on a corpus that is wrong).
describe('bad-input corpus', () => {
  it('covers every reject reason of ingest/validation', () => {
    const covered = new Set<string>([
      ...badReadingCases().map((c) => c.reason),
      ...csvCorpus().bad.values(),
      ...badFrameCases().map((c) => c.reason),
    ]);
    expect([...REJECT_REASONS].filter((r) => !covered.has(r))).toEqual([]);
  });

  it('each reading case is refused by validateReading for its stated reason; the good readings pass', () => {
    const ctx = createValidationContext({ meters: CORPUS_METERS, now: () => NOW });
    expect(validateReading(registerPrelude, ctx).ok).toBe(true);
    for (const c of badReadingCases()) expect(validateReading(c.reading, ctx), c.name).toMatchObject({ ok: false, reason: c.reason });
    for (let i = 0; i < 100; i++) expect(validateReading(goodReading(i), ctx).ok).toBe(true);
  });

  it('each frame case fails to decode with the error class its reason claims', () => {
    for (const c of badFrameCases()) {
      let code = 'decoded';
      try {
        decodeReading(c.bytes);
      } catch (err) {
        code = (err as { code: string }).code;
      }
      expect(code === 'MF_SCHEMA_DECODE_FAILED' ? 'MALFORMED' : code === 'decoded' ? 'decoded' : 'WRONG_SCHEMA', c.name).toBe(c.reason);
    }
  });
});
