/**
 * Shares one read among concurrent callers without ever answering a caller with a read that began
 * before it asked. A caller that finds a read in flight waits for the next one, which starts when
 * the current one ends and is shared by everyone who queued meanwhile. So under 200 concurrent
 * requests Cassandra sees about one checkpoint read per read time instead of 200, and each answer
 * still includes every checkpoint written before its request arrived (read-your-writes holds for
 * a client that wrote, waited for the speed layer, then queried).
 */
export class FreshReads<T> {
  private readonly inFlight = new Map<string, Promise<T>>();
  private readonly queued = new Map<string, Promise<T>>();

  read(key: string, load: () => Promise<T>): Promise<T> {
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
    const p = load();
    this.inFlight.set(key, p);
    const done = () => {
      if (this.inFlight.get(key) === p) this.inFlight.delete(key);
    };
    p.then(done, done);
    return p;
  }
}
