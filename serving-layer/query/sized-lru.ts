/**
 * A least-recently-used map bounded by a total size (each entry's size given by the caller: here,
 * buckets held), so the query caches hold a predictable amount of memory whatever the answer sizes.
 * A Map keeps insertion order: re-inserting on a hit makes the first key the least recently used.
 */
export class SizedLru<V> {
  private readonly entries = new Map<string, { value: V; size: number }>();
  private total = 0;

  constructor(private readonly maxSize: number) {}

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  /** Stores the value unless it alone is larger than the whole cache. */
  set(key: string, value: V, size: number): void {
    this.delete(key);
    if (size > this.maxSize) return;
    this.entries.set(key, { value, size });
    this.total += size;
    while (this.total > this.maxSize) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const hit = this.entries.get(key);
    if (hit === undefined) return;
    this.entries.delete(key);
    this.total -= hit.size;
  }

  get size(): number {
    return this.total;
  }

  get count(): number {
    return this.entries.size;
  }
}
