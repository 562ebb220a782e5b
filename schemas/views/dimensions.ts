import type { Meter } from '../reading.ts';

/**
 * What a view can group by. Values come from the meter registry (`Meter`); `fleet` is the constant
 * dimension of the all-meters view. The SQL column each one reads from the meters relation is
 * declared here too, so the batch layer never spells a dimension twice.
 */
export const DIMENSIONS = ['meter', 'site', 'region', 'tariff', 'fleet'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The value the `fleet` dimension always has. */
export const FLEET_VALUE = 'all';

export function dimensionValue(meter: Meter, dimension: Dimension): string {
  switch (dimension) {
    case 'meter':
      return meter.meterId;
    case 'site':
      return meter.siteId;
    case 'region':
      return meter.region;
    case 'tariff':
      return meter.tariff;
    case 'fleet':
      return FLEET_VALUE;
  }
}

/** Column of the meters relation (snake_case of `Meter`) a dimension reads; undefined = constant. */
export const DIMENSION_COLUMN: Record<Dimension, string | undefined> = {
  meter: 'meter_id',
  site: 'site_id',
  region: 'region',
  tariff: 'tariff',
  fleet: undefined,
};
