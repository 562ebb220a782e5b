import { describe, expect, it } from 'vitest';
import { VIEWS } from './catalog.ts';
import { assertServesGrain, defineView } from './define-view.ts';
import { coverage, importKwh, readingCount } from './measures.ts';

describe('defineView', () => {
  it('declares the standard catalog, finest grain first', () => {
    expect(VIEWS.map((v) => v.name)).toEqual(['meter_15m', 'site_hourly', 'region_hourly', 'tariff_hourly', 'fleet_hourly']);
    expect(VIEWS[0]?.grains).toEqual(['15m', 'hour', 'day', 'local-day', 'month', 'local-month']);
  });

  it('rejects inconsistent declarations with MF_VIEW_INVALID', () => {
    const ok = { name: 'v', dimensions: ['site'] as const, finestGrainMinutes: 60 as const, grains: [], measures: [importKwh] };
    const bad = (patch: object) => () => defineView({ ...ok, ...patch });
    expect(bad({ name: 'Bad-Name' })).toThrow(expect.objectContaining({ code: 'MF_VIEW_INVALID' }));
    expect(bad({ dimensions: [] })).toThrow(/at least one dimension/);
    expect(bad({ dimensions: ['fleet', 'site'] })).toThrow(/fleet/);
    expect(bad({ grains: ['15m'] })).toThrow(/finer than/);
    expect(bad({ measures: [coverage, readingCount] })).toThrow(/needs the monoid measure expectedCount/);
    expect(bad({ measures: [importKwh, importKwh] })).toThrow(/repeat/);
  });

  it('says which grains a view serves when asked for another', () => {
    expect(() => assertServesGrain(VIEWS[1] as never, '15m')).toThrow(expect.objectContaining({ code: 'MF_BAD_REQUEST' }));
  });
});
