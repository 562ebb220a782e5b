import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { BatchLayout } from '../../batch-layer/layout.ts';
import { versionViewFile } from '../../batch-layer/recompute/read-views.ts';
import { listVersions, readCurrentVersion } from '../../batch-layer/recompute/versions.ts';
import { readViewRows } from '../../batch-layer/sql/index.ts';
import type { GrainId, ViewDefinition } from '../../schemas/views/index.ts';
import type { BatchSource, BatchVersionInfo, BucketStates, KeyBucketStates } from './sources.ts';

/** Default reuse period of the version list: a new publication is visible within it. */
export const VERSIONS_CACHE_MS = 1_000;
/** Connections kept open between queries (DuckDB runs each query on its own threads anyway). */
const MAX_IDLE_CONNECTIONS = 4;

export interface DuckDbBatchSourceOptions {
  /** How long the list of versions (CURRENT + manifests) is reused before it is read again. */
  versionsCacheMs?: number;
  /** Older complete versions offered as fallbacks while the speed layer rebuilds CURRENT's generation. */
  fallbackVersions?: number;
}

/**
 * Published batch versions read with DuckDB straight from their Parquet files (batch-layer/layout.ts):
 * CURRENT names the served version, its manifest gives B[p]. One in-memory DuckDB database for
 * the process; connections are kept and re-used (opening one costs more than a small query).
 */
export class DuckDbBatchSource implements BatchSource {
  private instance: Promise<DuckDBInstance> | undefined;
  /** Connections not in use; a query takes one (or opens one) and gives it back. */
  private readonly idle: DuckDBConnection[] = [];
  private cached: { at: number; versions: Promise<BatchVersionInfo[]> } | undefined;
  private readonly newest = new Map<string, Promise<number | null>>();
  private readonly versionsCacheMs: number;
  private readonly fallbackVersions: number;

  constructor(
    private readonly layout: BatchLayout,
    options: DuckDbBatchSourceOptions = {},
  ) {
    this.versionsCacheMs = options.versionsCacheMs ?? VERSIONS_CACHE_MS;
    this.fallbackVersions = options.fallbackVersions ?? 2;
  }

  versions(): Promise<BatchVersionInfo[]> {
    const now = Date.now();
    if (this.cached === undefined || now - this.cached.at >= this.versionsCacheMs) {
      const versions = this.readVersions();
      this.cached = { at: now, versions };
      versions.catch(() => {
        if (this.cached?.versions === versions) this.cached = undefined;
      });
    }
    return this.cached.versions;
  }

  async readRows(version: number, view: ViewDefinition, grain: GrainId, key: string, from: number, to: number): Promise<BucketStates[]> {
    const file = await versionViewFile(this.layout, version, view, grain);
    const rows = await this.withConnection((con) =>
      readViewRows(con, view, grain, {
        sql: `SELECT * FROM read_parquet($files) WHERE row_key = $key[1]
              AND bucket >= CAST($range[1] AS BIGINT) AND bucket < CAST($range[2] AS BIGINT) ORDER BY bucket`,
        params: { files: [file], key: [key], range: [String(from), String(to)] },
      }),
    );
    return rows.map((r) => ({ bucket: r.bucket, states: r.states }));
  }

  async readKeysRows(
    version: number,
    view: ViewDefinition,
    grain: GrainId,
    keys: readonly string[],
    from: number,
    to: number,
  ): Promise<KeyBucketStates[]> {
    if (keys.length === 0) return [];
    const file = await versionViewFile(this.layout, version, view, grain);
    const rows = await this.withConnection((con) =>
      readViewRows(con, view, grain, {
        sql: `SELECT * FROM read_parquet($files) WHERE list_contains($keys, row_key)
              AND bucket >= CAST($range[1] AS BIGINT) AND bucket < CAST($range[2] AS BIGINT) ORDER BY row_key, bucket`,
        params: { files: [file], keys: [...keys], range: [String(from), String(to)] },
      }),
    );
    return rows.map((r) => ({ key: r.key, bucket: r.bucket, states: r.states }));
  }

  newestBucket(version: number, view: ViewDefinition, grain: GrainId): Promise<number | null> {
    const id = `${version}|${view.name}|${grain}`;
    let hit = this.newest.get(id);
    if (hit === undefined) {
      hit = (async () => {
        const file = await versionViewFile(this.layout, version, view, grain);
        const reader = await this.withConnection((con) =>
          con.runAndReadAll(`SELECT max(bucket) AS newest FROM read_parquet('${file.replaceAll("'", "''")}')`),
        );
        const newest = reader.getRowObjectsJS()[0]?.newest;
        return newest === null || newest === undefined ? null : Number(newest);
      })();
      hit.catch(() => this.newest.delete(id));
      this.newest.set(id, hit);
      if (this.newest.size > 1_000) this.newest.delete(this.newest.keys().next().value as string);
    }
    return hit;
  }

  close(): void {
    for (const con of this.idle.splice(0)) con.closeSync();
    void this.instance?.then((i) => i.closeSync()).catch(() => {});
    this.instance = undefined;
  }

  private async readVersions(): Promise<BatchVersionInfo[]> {
    const current = await readCurrentVersion(this.layout);
    if (current === undefined) return [];
    const complete = (await listVersions(this.layout)).filter((v) => v.complete && v.manifest !== undefined && v.version <= current);
    return complete.slice(0, 1 + this.fallbackVersions).map((v) => {
      const m = v.manifest as NonNullable<typeof v.manifest>;
      const offsets: Record<number, number> = {};
      for (const [p, o] of Object.entries(m.offsets)) offsets[Number(p)] = o;
      return { version: v.version, offsets, createdAt: m.createdAt, dataAsOf: m.master.manifestUpdatedAt };
    });
  }

  private async withConnection<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    this.instance ??= DuckDBInstance.create(':memory:');
    const instance = this.instance;
    const con = this.idle.pop() ?? (await (await instance).connect());
    let healthy = false;
    try {
      const out = await fn(con);
      healthy = true;
      return out;
    } finally {
      // A connection whose query failed is not trusted again; one of a closed source is closed.
      if (healthy && this.instance === instance && this.idle.length < MAX_IDLE_CONNECTIONS) this.idle.push(con);
      else con.closeSync();
    }
  }
}
