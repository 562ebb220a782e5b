import { DEFAULT_TARIFF, TARIFFS, type Tariff, tariffPriceTable } from '../../schemas/views/index.ts';
import { sqlDouble, sqlString } from './sql-text.ts';

/**
 * The tariff declarations as SQL relations, generated from the same price table the speed fold
 * uses (tariffPriceTable), so there is no second copy of the pricing rules to drift.
 */
export function tariffCtes(tariffs: readonly Tariff[] = TARIFFS): string {
  const prices = tariffPriceTable(tariffs)
    .map((r) => `(${sqlString(r.tariffId)}, ${r.weekend}, ${r.localHour}, ${sqlDouble(r.centsPerKwh)})`)
    .join(',\n    ');
  const standing = tariffs.map((t) => `(${sqlString(t.id)}, ${sqlDouble(t.standingChargeCentsPerDay)})`).join(', ');
  return [
    `tariff_prices (tariff_id, weekend, local_hour, cents_per_kwh) AS (VALUES\n    ${prices})`,
    `tariff_standing (tariff_id, standing_cents_per_day) AS (VALUES ${standing})`,
  ].join(',\n');
}

/** The effectiveTariff rule in SQL: a declared id, or the default tariff. */
export function effectiveTariffSql(tariffColumn: string, tariffs: readonly Tariff[] = TARIFFS): string {
  const ids = tariffs.map((t) => sqlString(t.id)).join(', ');
  return `CASE WHEN ${tariffColumn} IN (${ids}) THEN ${tariffColumn} ELSE ${sqlString(DEFAULT_TARIFF.id)} END`;
}
