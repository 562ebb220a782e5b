import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import { testConfig } from '../support/test-config.ts';
import { type FaultKind, runChaosRound } from './chaos-round.ts';

// The failure matrix, bounded, in `npm test`: one round during a paced replay of two real LCL
// households, with a kill -9 of every process kind at a random moment. Broker and node restarts
// take 15-50 s each on this machine: `npm run chaos -- --all-services` runs them, with many rounds.
// The seed is logged; CHAOS_SEED=<seed> replays a failing round. Measured on the 2-core machine
// (2026-12-03, another process busy on the other core): 54-56 s per round, three seeds, all exact.
// Seed 1972851604 failed in CI (2026-12-04): the archiver restarted after its kill -9 waited for
// the dead member's group session, and the final `archive --once`, stopped by its 120 s timeout,
// exited 0 having archived nothing. Each archiver run now has its own group and an interrupted
// --once fails: that seed's round takes 34 s.
const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const FAULTS: FaultKind[] = ['replay', 'speed', 'archive', 'batch', 'api'];
const log = createLogger('test-chaos', 'warn');

describe('failure matrix: kill -9 of every process during ingest', () => {
  it(`served answers equal DuckDB over the CSVs; the master dataset holds every offset once (seed ${SEED})`, {
    timeout: 300_000,
  }, async () => {
    log.warn({ seed: SEED }, 'chaos seed (replay with CHAOS_SEED)');
    const r = await runChaosRound({
      base: testConfig(),
      seed: SEED,
      households: ['MAC000002', 'MAC000003'],
      faults: FAULTS,
      log,
      budgetMs: 285_000,
    });
    log.warn({ ...r, kwhMismatches: r.kwhMismatches.slice(0, 5) }, 'chaos round');
    for (const k of FAULTS) expect(r.faults[k], k).toBe(1);
    expect(r.expectedReadings).toBeGreaterThan(30_000);
    expect({ lost: r.lost, doubleCounted: r.doubleCounted, kwh: r.kwhMismatches.slice(0, 5) }).toEqual({
      lost: 0,
      doubleCounted: 0,
      kwh: [],
    });
    expect(r.servedReadings).toBe(r.expectedReadings);
    expect({ missing: r.masterMissingOffsets, duplicates: r.masterDuplicateOffsets }).toEqual({ missing: 0, duplicates: 0 });
  });
});
