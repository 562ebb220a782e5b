/**
 * Load and generation shapes, in kW, from local time. Simple smooth curves, tuned to look like
 * the real data in /work/shared/data (LCL evening peaks, Ausgrid PV bells), not a forecasting model.
 * `season` is +1 at the coldest time of year and −1 at the warmest (hemisphere already applied).
 */

function bump(hour: number, centre: number, width: number): number {
  const d = hour - centre;
  return Math.exp(-(d * d) / (2 * width * width));
}

/** A home: night trough, morning bump, evening peak around 19:00; more at weekends by day; more in winter. */
export function residentialKw(hour: number, weekend: boolean, season: number): number {
  const shape = 0.25 + 0.45 * bump(hour, 7.5, 1) + 1.1 * bump(hour, 19, 1.6) + (weekend ? 0.35 * bump(hour, 13, 2.5) : 0);
  return shape * (1 + 0.25 * season);
}

/** A small business: a working-hours plateau on weekdays, a low base otherwise; cooling in summer. */
export function commercialKw(hour: number, weekend: boolean, season: number): number {
  const open = weekend ? 0 : 1 / (1 + Math.exp(-(hour - 8) * 2)) - 1 / (1 + Math.exp(-(hour - 18) * 2));
  return (0.3 + 0.7 * open) * (1 + 0.1 * Math.abs(season));
}

/**
 * PV output per kWp: zero outside daylight, a bell around local noon, days longer in summer
 * (8 h of daylight at midwinter to 16 h at midsummer), times a 0.5–1 cloud factor for the day.
 */
export function pvKwPerKwp(hour: number, season: number, cloudFactor: number): number {
  const daylight = 12 - 4 * season;
  const sunrise = 12 - daylight / 2;
  const x = (hour - sunrise) / daylight;
  if (x <= 0 || x >= 1) return 0;
  const peak = 0.85 - 0.25 * season; // lower sun in winter
  return peak * Math.sin(Math.PI * x) ** 1.5 * cloudFactor;
}

/** +1 mid-January, −1 mid-July in the north; reversed in the south. */
export function seasonAt(dayOfYear: number, southern: boolean): number {
  const north = Math.cos((2 * Math.PI * (dayOfYear - 15)) / 365.25);
  return southern ? -north : north;
}
