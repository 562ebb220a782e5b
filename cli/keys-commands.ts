import type { Command } from 'commander';
import { createCassandra } from '../core/cassandra.ts';
import { MeterflowError } from '../core/errors.ts';
import { CassandraKeyStore } from '../serving-layer/auth/cassandra-key-store.ts';
import { createApiKey, type KeyStore } from '../serving-layer/auth/key-store.ts';
import { contextFor } from './context.ts';

async function withKeyStore<T>(cmd: Command, use: (store: KeyStore) => Promise<T>): Promise<T> {
  const { config } = contextFor(cmd);
  const client = createCassandra(config);
  try {
    return await use(new CassandraKeyStore(client));
  } finally {
    await client.shutdown();
  }
}

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('API keys of the HTTP API (stored hashed in Cassandra)');

  keys
    .command('create')
    .description('create an API key and print it; it is shown this once and cannot be recovered')
    .requiredOption('--name <name>', 'who the key is for, e.g. head-end-north (shown in logs and as the source of readings)')
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; json?: boolean }, cmd: Command) => {
      const { record, token } = await withKeyStore(cmd, (store) => createApiKey(store, opts.name));
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ id: record.id, name: record.name, createdAt: record.createdAt.toISOString(), key: token })}\n`,
        );
        return;
      }
      process.stdout.write(`${token}\n`);
      process.stderr.write(
        `created key ${record.id} (${record.name}); it is printed above once: store it now. Send it as "Authorization: Bearer <key>".\n`,
      );
    });

  keys
    .command('list')
    .description('list keys (id, name, created, revoked); never the secrets')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const all = await withKeyStore(cmd, (store) => store.list());
      const rows = all.map((k) => ({ id: k.id, name: k.name, createdAt: k.createdAt.toISOString(), revoked: k.revoked }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      process.stdout.write('id\tname\tcreatedAt\trevoked\n');
      for (const r of rows) process.stdout.write(`${r.id}\t${r.name}\t${r.createdAt}\t${r.revoked}\n`);
      process.stderr.write(`${rows.length} keys\n`);
    });

  keys
    .command('revoke')
    .description('revoke a key by id; servers refuse it within serving.auth.cacheTtlMs')
    .argument('<id>', 'the key id (the 12 hex characters after "mf_")')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const revoked = await withKeyStore(cmd, (store) => store.revoke(id));
      if (!revoked) throw new MeterflowError('MF_NOT_FOUND', `no API key with id ${id}; \`meterflow keys list\` shows the ids`);
      process.stdout.write(`revoked key ${id}\n`);
    });
}
