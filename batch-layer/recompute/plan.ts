import { createHash } from 'node:crypto';
import type { Meter } from '../../schemas/reading.ts';
import type { ViewDefinition } from '../../schemas/views/index.ts';
import type { MasterManifest } from '../archive/master-manifest.ts';
import type { BatchLayout } from '../layout.ts';
import { compileFactsQuery, compileViewQuery } from '../sql/index.ts';
import type { DateRange } from './dirty-buckets.ts';
import { readCurrentVersion, readVersionManifest, type VersionManifest } from './versions.ts';

/**
 * Whether a batch run may carry rows forward from the served version, or must recompute
 * everything. Carrying forward is exact only when the previous version was computed by the same
 * SQL over the same registry (else every row may differ), and over a prefix of today's master
 * dataset (else "after B[p]" does not name everything that changed).
 */
export type RunMode = 'full' | 'incremental' | 'range';

export type RunPlan = { mode: 'full'; reason: string } | { mode: 'incremental' | 'range'; base: VersionManifest; range?: DateRange };

export interface PlanInputs {
  layout: BatchLayout;
  master: MasterManifest;
  fingerprint: string;
  /** `full`: --full or the scheduled full job. */
  requested: 'auto' | 'full';
  range?: DateRange;
}

/**
 * SHA-256 of everything besides the readings that a view row depends on: the generated facts SQL,
 * every (view, grain) query (so a changed measure, tariff, grain rule or view list changes it) and
 * the meter registry (dimensions, zones, tariffs), sorted so the registry's order does not matter.
 */
export function definitionsFingerprint(views: readonly ViewDefinition[], meters: readonly Meter[]): string {
  const tables = { readings: { kind: 'table', name: 'readings' }, meters: { kind: 'table', name: 'meters' } } as const;
  const hash = createHash('sha256');
  hash.update(compileFactsQuery(tables).sql);
  for (const view of views)
    for (const grain of view.grains) hash.update(`\0${view.name}/${grain}\0${compileViewQuery(view, grain, tables).sql}`);
  const sorted = [...meters].sort((a, b) => (a.meterId < b.meterId ? -1 : a.meterId > b.meterId ? 1 : 0));
  // Only the columns the SQL reads (createMetersTable), in a fixed order: stores may add fields.
  hash.update(
    JSON.stringify(sorted.map((m) => [m.meterId, m.siteId, m.region, m.timeZone, m.tariff, m.ratedKw, m.readingKind, m.intervalMinutes])),
  );
  return hash.digest('hex');
}

export async function planRun(o: PlanInputs): Promise<RunPlan> {
  if (o.requested === 'full') return { mode: 'full', reason: 'full run requested' };
  const current = await readCurrentVersion(o.layout);
  const base = current === undefined ? undefined : await readVersionManifest(o.layout, current);
  if (base === undefined) return { mode: 'full', reason: 'no previous version to carry rows from' };
  if (base.fingerprint !== o.fingerprint) {
    return { mode: 'full', reason: `view definitions or meter registry differ from v${base.version}'s` };
  }
  for (const [p, b] of Object.entries(base.offsets)) {
    const covered = o.master.partitions[p]?.lastOffset;
    if (covered === undefined || covered < b) {
      return { mode: 'full', reason: `the master dataset covers partition ${p} to ${covered ?? 'nothing'}, v${base.version} to ${b}` };
    }
  }
  return o.range === undefined ? { mode: 'incremental', base } : { mode: 'range', base, range: o.range };
}
