import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CassandraClient } from '../../core/cassandra.ts';
import type { Config } from '../../core/config-schema.ts';
import { MeterflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';

export const DEFAULT_MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'cql');
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.cql$/;

export interface Migration {
  version: number;
  name: string;
  file: string;
  checksum: string;
  statements: string[];
}

export interface MigrationResult {
  version: number;
  name: string;
  action: 'applied' | 'already-applied';
}

/** Reads NNNN_name.cql files in version order; a file that does not follow the pattern is an error, not skipped. */
export async function readMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (!match) {
      throw new MeterflowError('MF_MIGRATION_FAILED', `migration file ${file} in ${dir} must be named NNNN_lower_case_name.cql`, {
        details: { file },
      });
    }
    const text = await readFile(join(dir, file), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new MeterflowError('MF_MIGRATION_FAILED', `two migration files have version ${match[1]} in ${dir}`, { details: { file } });
    }
    migrations.push({
      version,
      name: match[2] as string,
      file,
      checksum: createHash('sha256').update(text).digest('hex'),
      statements: splitStatements(text),
    });
  }
  return migrations;
}

/** Splits a CQL script on statement-ending semicolons, dropping `--` and `//` comment lines. */
export function splitStatements(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !/^\s*(--|\/\/)/.test(line))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function keyspaceCql(config: Config): string {
  const r = config.cassandra.replication;
  const replication =
    r.class === 'SimpleStrategy'
      ? `{'class': 'SimpleStrategy', 'replication_factor': ${r.replicationFactor}}`
      : `{'class': 'NetworkTopologyStrategy', ${Object.entries(r.dataCenters)
          .map(([dc, n]) => `'${dc.replaceAll("'", "''")}': ${n}`)
          .join(', ')}}`;
  return `CREATE KEYSPACE IF NOT EXISTS ${config.cassandra.keyspace} WITH replication = ${replication}`;
}

/**
 * Applies each migration not yet recorded in schema_migrations, through a client bound to the
 * keyspace (create it first with keyspaceCql). A recorded migration whose file changed since is an
 * error: migrations are append-only.
 */
export async function migrateCql(client: CassandraClient, config: Config, log: Logger): Promise<MigrationResult[]> {
  const ks = config.cassandra.keyspace;
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${ks}.schema_migrations (version int PRIMARY KEY, name text, checksum text, applied_at timestamp)`,
  );
  const applied = new Map<number, { checksum: string }>();
  const rs = await client.execute(`SELECT version, checksum FROM ${ks}.schema_migrations`);
  for (const row of rs.rows) applied.set(row.get('version') as number, { checksum: row.get('checksum') as string });

  const dir = config.cassandra.migrationsDir ?? DEFAULT_MIGRATIONS_DIR;
  const results: MigrationResult[] = [];
  for (const m of await readMigrations(dir)) {
    const done = applied.get(m.version);
    if (done) {
      if (done.checksum !== m.checksum) {
        throw new MeterflowError(
          'MF_MIGRATION_CHANGED',
          `migration ${m.file} was applied earlier and has changed since; add a new migration file instead of editing an applied one`,
          { details: { file: m.file, version: m.version } },
        );
      }
      results.push({ version: m.version, name: m.name, action: 'already-applied' });
      continue;
    }
    for (const statement of m.statements) {
      try {
        await client.execute(statement);
      } catch (cause) {
        throw new MeterflowError(
          'MF_MIGRATION_FAILED',
          `migration ${m.file} failed at: ${statement.slice(0, 200)}: ${(cause as Error).message}`,
          {
            cause,
            details: { file: m.file },
          },
        );
      }
    }
    await client.execute(`INSERT INTO ${ks}.schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, toTimestamp(now()))`, [
      m.version,
      m.name,
      m.checksum,
    ]);
    log.info({ version: m.version, migration: m.name }, `applied migration ${m.file}`);
    results.push({ version: m.version, name: m.name, action: 'applied' });
  }
  return results;
}
