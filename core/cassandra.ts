import cassandra from 'cassandra-driver';
import type { Config } from './config.ts';
import { MeterflowError } from './errors.ts';

export type CassandraClient = cassandra.Client;

export function cassandraContactPoints(config: Config): string[] {
  return config.cassandra.contactPoints ?? [`127.0.0.1:${config.infra.cassandra.nativePort}`];
}

export function isExternalCassandra(config: Config): boolean {
  return config.cassandra.contactPoints !== undefined;
}

/** A driver client; `keyspace: false` for one that is not bound to the meterflow keyspace (migrations). */
export function createCassandra(config: Config, options: { keyspace?: boolean; connectTimeoutMs?: number } = {}): CassandraClient {
  return new cassandra.Client({
    contactPoints: cassandraContactPoints(config),
    localDataCenter: config.cassandra.localDataCenter,
    ...(options.keyspace === false ? {} : { keyspace: config.cassandra.keyspace }),
    socketOptions: {
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      readTimeout: config.cassandra.requestTimeoutMs,
    },
    queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true },
    // The driver's default waits up to 10 minutes between reconnection attempts; a node back from
    // a restart should be used again within seconds (the speed layer is paused meanwhile).
    policies: { reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(500, 10_000) },
  });
}

/** Connects and asks the node its version; fails fast with an error that names the contact points. */
export async function checkCassandraReachable(config: Config): Promise<string> {
  const client = createCassandra(config, { keyspace: false, connectTimeoutMs: 3_000 });
  try {
    await client.connect();
    const rs = await client.execute('SELECT release_version FROM system.local');
    return String(rs.first()?.get('release_version'));
  } catch (cause) {
    throw new MeterflowError(
      'MF_CASSANDRA_UNREACHABLE',
      `cannot reach Cassandra at ${cassandraContactPoints(config).join(',')} (cassandra.contactPoints${isExternalCassandra(config) ? ', e.g. from CASSANDRA_CONTACT_POINTS' : ': the local node; is `meterflow infra up` running?'}): ${(cause as Error).message}`,
      { cause, details: { contactPoints: cassandraContactPoints(config) } },
    );
  } finally {
    await client.shutdown().catch(() => {});
  }
}

/** bigint columns come back as driver Long objects; counts and offsets here fit a double exactly. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value !== null && typeof value === 'object' && 'toNumber' in value) return (value as { toNumber(): number }).toNumber();
  return Number(value);
}

/** Every row of a query, fetched page by page so a large table never arrives as one response. */
export async function readAllRows(
  client: CassandraClient,
  query: string,
  params: unknown[] = [],
  fetchSize = 5_000,
): Promise<cassandra.types.Row[]> {
  const rows: cassandra.types.Row[] = [];
  let pageState: string | undefined;
  do {
    const rs = await client.execute(query, params, { prepare: true, fetchSize, ...(pageState ? { pageState } : {}) });
    rows.push(...rs.rows);
    pageState = rs.pageState ?? undefined;
  } while (pageState);
  return rows;
}
