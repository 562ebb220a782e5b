import { Counter } from 'prom-client';
import { SizedLru } from './sized-lru.ts';

/** On prom-client's default registry, once per process (several apps per process in tests). */
const cacheRequests = new Counter({
  name: 'meterflow_query_cache_requests_total',
  help: 'Query cache lookups by cache and outcome (hit: stored answer; joined: shared a read in flight; miss: read the sources)',
  labelNames: ['cache', 'outcome'] as const,
});

/**
 * A SizedLru of loaded values with single flight: concurrent misses of one key share one load, and
 * a failed load is never stored (the next caller tries again). Only values that cannot change for
 * their key belong here: the keys name immutable inputs (a batch version, a checkpoint state).
 */
export class LoadingCache<V> {
  private readonly lru: SizedLru<V>;
  private readonly loading = new Map<string, Promise<V>>();

  constructor(
    private readonly name: string,
    maxSize: number,
    private readonly sizeOf: (value: V) => number,
  ) {
    this.lru = new SizedLru(maxSize);
  }

  /** `keep`: whether a loaded value may be stored (one that is incomplete is returned, not kept). */
  get(key: string, load: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
    const hit = this.lru.get(key);
    if (hit !== undefined) {
      cacheRequests.inc({ cache: this.name, outcome: 'hit' });
      return Promise.resolve(hit);
    }
    const inFlight = this.loading.get(key);
    if (inFlight !== undefined) {
      cacheRequests.inc({ cache: this.name, outcome: 'joined' });
      return inFlight;
    }
    cacheRequests.inc({ cache: this.name, outcome: 'miss' });
    const p = load();
    this.loading.set(key, p);
    p.then(
      (value) => {
        this.loading.delete(key);
        if (keep(value)) this.lru.set(key, value, this.sizeOf(value));
      },
      () => this.loading.delete(key),
    );
    return p;
  }

  /** Buckets (or whatever sizeOf counts) held now. */
  get size(): number {
    return this.lru.size;
  }
}
