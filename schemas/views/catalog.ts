import { defineView, type ViewDefinition } from './define-view.ts';
import {
  ALL_MEASURES,
  costCents,
  coverage,
  energyCostCents,
  expectedCount,
  exportKwh,
  flaggedCount,
  importKwh,
  maxIntervalKwh,
  netKwh,
  peakDemandKw,
  readingCount,
  standingChargeCents,
} from './measures.ts';

/**
 * The standard views. Adding a view = adding one declaration here (and to VIEWS); every layer
 * derives its fold, SQL, tables and routes from this list.
 */
const ALL_GRAINS = ['day', 'month', 'local-day', 'local-month'] as const;

export const meter15m = defineView({
  name: 'meter_15m',
  description: 'per meter, 15-minute buckets and up: everything, including min/max/peak and cost',
  dimensions: ['meter'],
  finestGrainMinutes: 15,
  grains: ['hour', ...ALL_GRAINS],
  measures: ALL_MEASURES,
});

export const siteHourly = defineView({
  name: 'site_hourly',
  dimensions: ['site'],
  finestGrainMinutes: 60,
  grains: ALL_GRAINS,
  measures: ALL_MEASURES,
});

export const regionHourly = defineView({
  name: 'region_hourly',
  dimensions: ['region'],
  finestGrainMinutes: 60,
  grains: ALL_GRAINS,
  measures: [
    importKwh,
    exportKwh,
    netKwh,
    readingCount,
    flaggedCount,
    expectedCount,
    coverage,
    peakDemandKw,
    energyCostCents,
    standingChargeCents,
    costCents,
  ],
});

export const tariffHourly = defineView({
  name: 'tariff_hourly',
  description: 'per tariff id: what each tariff group consumed and paid',
  dimensions: ['tariff'],
  finestGrainMinutes: 60,
  grains: ALL_GRAINS,
  measures: [
    importKwh,
    exportKwh,
    netKwh,
    readingCount,
    expectedCount,
    coverage,
    maxIntervalKwh,
    energyCostCents,
    standingChargeCents,
    costCents,
  ],
});

export const fleetHourly = defineView({
  name: 'fleet_hourly',
  dimensions: ['fleet'],
  finestGrainMinutes: 60,
  grains: ALL_GRAINS,
  measures: [
    importKwh,
    exportKwh,
    netKwh,
    readingCount,
    flaggedCount,
    expectedCount,
    coverage,
    peakDemandKw,
    costCents,
    energyCostCents,
    standingChargeCents,
  ],
});

export const VIEWS: readonly ViewDefinition[] = [meter15m, siteHourly, regionHourly, tariffHourly, fleetHourly];

export function viewByName(name: string): ViewDefinition | undefined {
  return VIEWS.find((v) => v.name === name);
}
