import type { CassandraClient } from '../../core/cassandra.ts';
import type { Kafka } from '../../core/kafka.ts';
import type { Probe } from '../routes/operations-routes.ts';

/** Cassandra answers a trivial query on the server's own client (the driver reconnects by itself). */
export function cassandraProbe(client: CassandraClient): Probe {
  return () => client.execute('SELECT release_version FROM system.local');
}

/**
 * Kafka answers a metadata request. One admin client is kept between probes (a readiness check
 * every few seconds should not open a connection each time); after a failure it is replaced, so a
 * broker that comes back is seen at the next probe.
 */
export function kafkaProbe(kafka: Kafka): Probe & { close(): Promise<void> } {
  let admin: ReturnType<Kafka['admin']> | undefined;
  const probe = async () => {
    try {
      if (!admin) {
        admin = kafka.admin();
        await admin.connect();
      }
      return await admin.describeCluster();
    } catch (err) {
      const failed = admin;
      admin = undefined;
      await failed?.disconnect().catch(() => {});
      throw err;
    }
  };
  return Object.assign(probe, {
    close: async () => {
      await admin?.disconnect().catch(() => {});
      admin = undefined;
    },
  });
}
