import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCassandra } from '../../core/cassandra.ts';
import type { Config } from '../../core/config.ts';
import { MeterflowError } from '../../core/errors.ts';
import { MeterRegistryStore } from '../../core/meter-registry.ts';
import { lclMeters } from '../../ingest/sources/index.ts';
import { tokenId, tokenMatches } from '../../serving-layer/auth/api-key-token.ts';
import { CassandraKeyStore } from '../../serving-layer/auth/cassandra-key-store.ts';
import { createApiKey } from '../../serving-layer/auth/key-store.ts';

/** The demo data's files: the readings folder and the households file the registry comes from. */
export function demoData(dataDir: string): { readings: string; households: string } {
  const d = { readings: join(dataDir, 'lcl-2013'), households: join(dataDir, 'lcl-2013-households.csv') };
  for (const path of Object.values(d)) {
    if (!existsSync(path)) {
      throw new MeterflowError(
        'MF_BAD_REQUEST',
        `the demo data is not where pipeline.dataDir (${dataDir}) says: ${path} does not exist; set --data DIR or METERFLOW_PIPELINE__DATA_DIR, or start with --no-feed`,
        { details: { path } },
      );
    }
  }
  return d;
}

/**
 * Imports the LCL households into the meter registry (idempotent: an upsert) and returns an API key
 * for the printed URL. The key is kept in `<runDir>/api-key` (mode 0600) and re-used while it is
 * valid, so every `up` does not mint a new one; a revoked or unknown key is replaced.
 */
export async function prepareDemo(
  config: Config,
  runDir: string,
  households: string | undefined,
): Promise<{ meters: number; apiKey: string; keyCreated: boolean }> {
  const client = createCassandra(config);
  try {
    const meters = households === undefined ? 0 : await new MeterRegistryStore(client).upsert(await lclMeters(households));
    const store = new CassandraKeyStore(client);
    const keyFile = join(runDir, 'api-key');
    const saved = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : '';
    const id = tokenId(saved);
    const record = id === undefined ? undefined : await store.get(id);
    if (record !== undefined && !record.revoked && tokenMatches(saved, record.hash)) return { meters, apiKey: saved, keyCreated: false };
    const { token } = await createApiKey(store, 'meterflow-up');
    writeFileSync(keyFile, `${token}\n`, { mode: 0o600 });
    return { meters, apiKey: token, keyCreated: true };
  } finally {
    await client.shutdown();
  }
}
