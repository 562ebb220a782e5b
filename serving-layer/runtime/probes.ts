import type { CassandraClient } from '../../core/cassandra.ts';
import type { Kafka } from '../../core/kafka.ts';
import type { Probe } from '../routes/operations-routes.ts';

/** Cassandra answers a trivial query on the server's own client (the driver reconnects by itself). */
export function cassandraProbe(client: CassandraClient): Probe {
  return () => client.execute('SELECT release_version FROM system.local');
}

type Admin = ReturnType<Kafka['admin']>;

/**
 * One admin client kept between calls (a readiness check every few seconds, a status page
 * refreshing, should not open a connection each time); after a failure it is replaced, so a
 * broker that comes back is seen at the next call.
 */
export function sharedAdmin(kafka: Kafka): { run<T>(fn: (admin: Admin) => Promise<T>): Promise<T>; close(): Promise<void> } {
  let admin: Admin | undefined;
  return {
    async run(fn) {
      try {
        if (!admin) {
          admin = kafka.admin();
          await admin.connect();
        }
        return await fn(admin);
      } catch (err) {
        const failed = admin;
        admin = undefined;
        await failed?.disconnect().catch(() => {});
        throw err;
      }
    },
    close: async () => {
      await admin?.disconnect().catch(() => {});
      admin = undefined;
    },
  };
}

/** Kafka answers a metadata request. */
export function kafkaProbe(kafka: Kafka): Probe & { close(): Promise<void> } {
  const shared = sharedAdmin(kafka);
  return Object.assign(() => shared.run((a) => a.describeCluster()), { close: shared.close });
}
