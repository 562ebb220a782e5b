import { describe, expect, it } from 'vitest';
import { DATA_DIR } from '../support/data-dir.ts';
import { testConfig } from '../support/test-config.ts';
import { runE2e } from './scenario.ts';

// Part of npm test (~170 s here). The bounded end-to-end run (the full one over every file is `npm run e2e`): LCL households in the
// batch and after it, the dirty raw LCL file across the batch boundary, one OPSD register household,
// Ausgrid's Sydney-time year with its two DST days; every served answer against DuckDB over the CSVs.
describe('end to end: batch ⊕ speed over the real command line equals DuckDB over the source files', () => {
  it('every (meter, day), (meter, month) and (Acorn group, month) answer, exact', async () => {
    const started = Date.now();
    const report = await runE2e(
      testConfig(),
      {
        dataDir: DATA_DIR,
        lclEarly: ['MAC000002', 'MAC000003'],
        lclLate: ['MAC000004'],
        lclRaw: true,
        opsd: ['residential_1'],
        ausgrid: true,
      },
      (line) => process.stderr.write(`e2e ${line}\n`),
    );
    expect(report.mismatches.slice(0, 20)).toEqual([]);
    // A year of days for each of 3 LCL households, Ausgrid, the OPSD meters, and their months.
    expect(report.answers).toBeGreaterThan(2_000);
    expect(report.deadLetters.expected).toBeGreaterThan(0);
    expect(report.maxAbsError).toBeLessThanOrEqual(1e-6);
    process.stderr.write(`e2e: ${report.answers} answers in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }, 300_000);
});
