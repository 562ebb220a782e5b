import type { Meter } from '../schemas/reading.ts';
import { type CassandraClient, readAllRows } from './cassandra.ts';

/**
 * The meter registry in Cassandra (table `meters`, migration 0001). Small — one row per meter — and
 * read whole by ingest (validation) and the speed layer (dimensions).
 */
export class MeterRegistryStore {
  constructor(private readonly client: CassandraClient) {}

  /** Upserts meters, at most `concurrency` writes in flight. */
  async upsert(meters: Iterable<Meter>, concurrency = 64): Promise<number> {
    const query =
      'INSERT INTO meters (meter_id, site_id, region, time_zone, tariff, rated_kw, reading_kind, interval_minutes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';
    const now = new Date();
    let count = 0;
    const inFlight = new Set<Promise<unknown>>();
    for (const m of meters) {
      const p = this.client
        .execute(query, [m.meterId, m.siteId, m.region, m.timeZone, m.tariff, m.ratedKw, m.readingKind, m.intervalMinutes, now])
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      count++;
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    return count;
  }

  async all(): Promise<Meter[]> {
    const meters = (await readAllRows(this.client, 'SELECT * FROM meters')).map(rowToMeter);
    return meters.sort((a, b) => a.meterId.localeCompare(b.meterId));
  }

  async get(meterId: string): Promise<Meter | undefined> {
    const row = (await this.client.execute('SELECT * FROM meters WHERE meter_id = ?', [meterId])).first();
    return row ? rowToMeter(row) : undefined;
  }

  async asMap(): Promise<Map<string, Meter>> {
    return new Map((await this.all()).map((m) => [m.meterId, m]));
  }
}

function rowToMeter(row: { get(name: string): unknown }): Meter {
  return {
    meterId: row.get('meter_id') as string,
    siteId: row.get('site_id') as string,
    region: row.get('region') as string,
    timeZone: row.get('time_zone') as string,
    tariff: row.get('tariff') as string,
    ratedKw: row.get('rated_kw') as number,
    readingKind: row.get('reading_kind') as Meter['readingKind'],
    intervalMinutes: row.get('interval_minutes') as number,
  };
}
