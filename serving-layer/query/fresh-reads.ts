/**
 * Shares one read among concurrent callers without ever answering a caller with a read that began
 * before it asked (or, with maxAgeMs, more than maxAgeMs before it asked). A caller that finds a
 * read in flight waits for the next one, which starts when the current one ends and is shared by
 * everyone who queued meanwhile. So under 200 concurrent requests Cassandra sees about one
 * checkpoint read per read time instead of 200, and with maxAgeMs 0 each answer still includes
 * every checkpoint written before its request arrived (read-your-writes for a client that wrote,
 * waited for the speed layer, then queried).
 */
export class FreshReads<T> {
  private readonly inFlight = new Map<string, Promise<T>>();
  private readonly queued = new Map<string, Promise<T>>();
  /** The last completed read per key and when it began. */
  private readonly last = new Map<string, { startedAt: number; value: T }>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(options: { maxAgeMs?: number; now?: () => number } = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 0;
    this.now = options.now ?? Date.now;
  }

  read(key: string, load: () => Promise<T>): Promise<T> {
    const last = this.last.get(key);
    if (last !== undefined && this.now() - last.startedAt < this.maxAgeMs) return Promise.resolve(last.value);
    const queued = this.queued.get(key);
    if (queued !== undefined) return queued;
    const current = this.inFlight.get(key);
    if (current === undefined) return this.start(key, load);
    const next = current
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.queued.delete(key);
        return this.start(key, load);
      });
    this.queued.set(key, next);
    return next;
  }

  private start(key: string, load: () => Promise<T>): Promise<T> {
    const startedAt = this.now();
    const p = load();
    this.inFlight.set(key, p);
    const done = () => {
      if (this.inFlight.get(key) === p) this.inFlight.delete(key);
    };
    p.then((value) => {
      done();
      if (this.maxAgeMs > 0 && (this.last.get(key)?.startedAt ?? -Infinity) <= startedAt) this.last.set(key, { startedAt, value });
    }, done);
    return p;
  }
}
