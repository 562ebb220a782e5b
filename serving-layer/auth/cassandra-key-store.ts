import { type CassandraClient, readAllRows } from '../../core/cassandra.ts';
import { MeterflowError } from '../../core/errors.ts';
import type { ApiKeyRecord, KeyStore } from './key-store.ts';

const COLUMNS = 'id, name, hash, created_at, revoked';

/** API keys in Cassandra (table `api_keys`, migration 0002), through prepared statements only. */
export class CassandraKeyStore implements KeyStore {
  constructor(private readonly client: CassandraClient) {}

  async insert(record: ApiKeyRecord): Promise<void> {
    // IF NOT EXISTS: a (vanishingly unlikely) id collision must fail, never overwrite another key.
    const rs = await this.client.execute(
      'INSERT INTO api_keys (id, name, hash, created_at, revoked) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS',
      [record.id, record.name, record.hash, record.createdAt, record.revoked],
      { prepare: true },
    );
    if (rs.first()?.get('[applied]') !== true) {
      throw new MeterflowError('MF_INTERNAL', `an API key with id ${record.id} already exists; create the key again`);
    }
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = (await this.client.execute(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`, [id], { prepare: true })).first();
    return row ? rowToKey(row) : undefined;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const keys = (await readAllRows(this.client, `SELECT ${COLUMNS} FROM api_keys`, [], 1_000)).map(rowToKey);
    return keys.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
  }

  async revoke(id: string): Promise<boolean> {
    const rs = await this.client.execute('UPDATE api_keys SET revoked = true, revoked_at = ? WHERE id = ? IF EXISTS', [new Date(), id], {
      prepare: true,
    });
    return rs.first()?.get('[applied]') === true;
  }

  async anyExist(): Promise<boolean> {
    return (await this.client.execute('SELECT id FROM api_keys LIMIT 1', [], { prepare: true })).rowLength > 0;
  }
}

function rowToKey(row: { get(name: string): unknown }): ApiKeyRecord {
  return {
    id: row.get('id') as string,
    name: row.get('name') as string,
    hash: row.get('hash') as string,
    createdAt: row.get('created_at') as Date,
    revoked: row.get('revoked') === true,
  };
}
