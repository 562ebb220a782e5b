import type { ApiKeyRecord, KeyStore } from './key-store.ts';

/**
 * Key lookups by id, cached in memory for `ttlMs` so a busy client costs Cassandra one read per
 * TTL, not one per request. Unknown ids are cached too (a client with a wrong key retrying in a loop
 * must not become a Cassandra load test), and concurrent misses for one id share a single read.
 * The cache is bounded: past `maxEntries` the oldest entries go first.
 */
export class CachedKeyLookup {
  private readonly entries = new Map<string, { at: number; value: Promise<ApiKeyRecord | undefined> }>();
  private anyKey: { at: number; value: Promise<boolean> } | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  get(id: string): Promise<ApiKeyRecord | undefined> {
    const hit = this.entries.get(id);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.value;
    const value = this.store.get(id);
    // A failed read is not cached: the next request tries Cassandra again.
    value.catch(() => this.entries.delete(id));
    this.entries.delete(id);
    this.entries.set(id, { at: this.now(), value });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return value;
  }

  /** Keys are never deleted, so once one exists this stays true without asking again. */
  async anyExist(): Promise<boolean> {
    const hit = this.anyKey;
    if (hit && (this.now() - hit.at < this.ttlMs || (await hit.value))) return hit.value;
    const value = this.store.anyExist();
    value.catch(() => {
      this.anyKey = undefined;
    });
    this.anyKey = { at: this.now(), value };
    return value;
  }
}
