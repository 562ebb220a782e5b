/** One view change as the live stream sends it (the Avro ViewChange, key re-encoded as a row key). */
export interface LiveEvent {
  view: string;
  /** The row key (encodeRowKey form), as the series route takes it. */
  key: string;
  grain: string;
  /** Bucket start, ISO. */
  bucket: string;
  /**
   * The finalized partial of ONE readings partition's piece of the bucket (what the speed layer
   * flushed), not the served total: a client re-reads the series to show the merged value.
   */
  measures: Record<string, number>;
  generation: number;
  cause: string;
  /** Readings partition → offset covered. */
  offsets: Record<string, number>;
}

export interface LiveFilter {
  view?: string;
  key?: string;
  grain?: string;
}

type Listener = (event: LiveEvent) => void;

/**
 * Fans view changes out to subscribers (the SSE streams), each with its filter. Synchronous and
 * in memory: one feed consumer per process, any number of clients.
 */
export class LiveHub {
  private readonly subscribers = new Map<number, { filter: LiveFilter; listener: Listener }>();
  private nextId = 0;

  subscribe(filter: LiveFilter, listener: Listener): () => void {
    const id = this.nextId++;
    this.subscribers.set(id, { filter, listener });
    return () => this.subscribers.delete(id);
  }

  publish(event: LiveEvent): void {
    for (const { filter, listener } of this.subscribers.values()) if (matches(filter, event)) listener(event);
  }

  get size(): number {
    return this.subscribers.size;
  }
}

function matches(f: LiveFilter, e: LiveEvent): boolean {
  return (
    (f.view === undefined || f.view === e.view) &&
    (f.key === undefined || f.key === e.key) &&
    (f.grain === undefined || f.grain === e.grain)
  );
}
