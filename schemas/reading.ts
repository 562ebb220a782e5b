/**
 * The domain types every layer shares. The Avro schemas (`*.avsc` in this folder) are the wire
 * form of these; code outside the Kafka boundary only ever sees these typed objects.
 */

/** import = consumption from the grid; export = generation fed into the grid. */
export type Channel = 'import' | 'export';
/** interval: kWh used in the interval; register: the cumulative register value (kWh) at the interval's end. */
export type ReadingKind = 'interval' | 'register';
export type Quality = 'actual' | 'estimated' | 'edited';

export interface MeterReading {
  meterId: string;
  /** Start of the interval, UTC epoch milliseconds. */
  intervalStart: number;
  /** Length of the interval in minutes (1, 5, 15, 30, 60). */
  intervalMinutes: number;
  channel: Channel;
  kind: ReadingKind;
  /** kWh in the interval (kind interval) or cumulative kWh (kind register). */
  value: number;
  quality: Quality;
  /** Where the reading came from: "simulator", "replay:lcl:MAC000002.csv", "http:<key name>"... */
  source: string;
  /** A correction replaces an earlier value for the same meter, channel and interval start. */
  correction: boolean;
}

/** One row of the meter registry: the dimensions views group by, and the limits validation checks. */
export interface Meter {
  meterId: string;
  siteId: string;
  region: string;
  /** IANA time zone of the site, e.g. Europe/London; local-time buckets use it. */
  timeZone: string;
  /** Tariff id, defined as data (see the view definitions). */
  tariff: string;
  /** Highest demand the meter can see, kW; a reading implying more is a spike. */
  ratedKw: number;
  readingKind: ReadingKind;
  intervalMinutes: number;
}
