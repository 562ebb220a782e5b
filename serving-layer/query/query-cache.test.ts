import { describe, expect, it } from 'vitest';
import { type MeasureStates, meter15m, zeroStates } from '../../schemas/views/index.ts';
import { CachedBatchSource } from './cached-batch-source.ts';
import { FreshReads } from './fresh-reads.ts';
import { LoadingCache } from './loading-cache.ts';
import { mergedSize, readMergedRows } from './merge-rows.ts';
import { choosePair } from './series-query.ts';
import { SizedLru } from './sized-lru.ts';
import type { BatchSource, BatchVersionInfo, CachedMerge, QuerySources, SpeedCheckpointInfo, SpeedSource } from './sources.ts';

// The serving caches: what they keep, when they read again, and that a cached answer is always
// the answer the sources give for the same (batch version, checkpoints).

const DAY = 86_400_000;
const JAN1 = Date.UTC(2013, 0, 1);
const KEY = 'meter=lcl:MAC000002';
const kwh = (importKwh: number): MeasureStates => ({ ...zeroStates(meter15m), importKwh, readingCount: 1 });

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

describe('SizedLru', () => {
  it('evicts the least recently used entries once the total size is over the bound', () => {
    const lru = new SizedLru<string>(10);
    lru.set('a', 'A', 4);
    lru.set('b', 'B', 4);
    expect(lru.get('a')).toBe('A'); // a is now the most recent
    lru.set('c', 'C', 4); // 12 > 10: b goes
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe('A');
    expect(lru.get('c')).toBe('C');
    expect(lru.size).toBe(8);
  });

  it('does not store a value larger than the whole cache, and replacing a key frees its old size', () => {
    const lru = new SizedLru<string>(10);
    lru.set('big', 'X', 11);
    expect(lru.get('big')).toBeUndefined();
    lru.set('a', 'A', 6);
    lru.set('a', 'A2', 3);
    expect(lru.size).toBe(3);
    expect(lru.count).toBe(1);
  });
});

describe('FreshReads', () => {
  it('a caller that arrives while a read is in flight waits for the next read, shared with everyone queued', async () => {
    const reads = new FreshReads<number>();
    let state = 1;
    const started: ReturnType<typeof deferred<number>>[] = [];
    const load = () => {
      const d = deferred<number>();
      const seen = state;
      started.push(d);
      return d.promise.then(() => seen);
    };
    const first = reads.read('g', load);
    state = 2; // written after the first read began: later callers must see it
    const second = reads.read('g', load);
    const third = reads.read('g', load);
    expect(started.length).toBe(1);
    started[0]?.resolve(0);
    expect(await first).toBe(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(started.length).toBe(2); // one more read for both queued callers
    started[1]?.resolve(0);
    expect(await second).toBe(2);
    expect(await third).toBe(2);
  });

  it('a failed read fails its callers only; the next caller reads again', async () => {
    const reads = new FreshReads<number>();
    await expect(reads.read('g', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await reads.read('g', async () => 7)).toBe(7);
  });
});

describe('FreshReads with maxAgeMs', () => {
  it('re-uses a read younger than maxAgeMs (counted from when it began), then reads again', async () => {
    let now = 1_000;
    const reads = new FreshReads<number>({ maxAgeMs: 100, now: () => now });
    let loads = 0;
    const load = async () => ++loads;
    expect(await reads.read('g', load)).toBe(1);
    now += 99;
    expect(await reads.read('g', load)).toBe(1);
    now += 1;
    expect(await reads.read('g', load)).toBe(2);
    expect(await reads.read('other', load)).toBe(3);
  });

  it('never re-uses a failed read', async () => {
    const reads = new FreshReads<number>({ maxAgeMs: 60_000 });
    await expect(reads.read('g', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await reads.read('g', async () => 5)).toBe(5);
    expect(await reads.read('g', async () => 6)).toBe(5);
  });
});

describe('LoadingCache', () => {
  it('concurrent misses of one key share one load; later calls hit', async () => {
    const cache = new LoadingCache<number[]>('test', 100, (v) => v.length);
    let loads = 0;
    const d = deferred<number[]>();
    const load = () => {
      loads++;
      return d.promise;
    };
    const a = cache.get('k', load);
    const b = cache.get('k', load);
    d.resolve([1, 2]);
    expect(await a).toEqual([1, 2]);
    expect(await b).toBe(await a);
    expect(await cache.get('k', load)).toEqual([1, 2]);
    expect(loads).toBe(1);
    expect(cache.size).toBe(2);
  });

  it('never stores a failed load', async () => {
    const cache = new LoadingCache<number[]>('test', 100, (v) => v.length);
    await expect(cache.get('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await cache.get('k', async () => [3])).toEqual([3]);
  });
});

class CountingBatch implements BatchSource {
  reads = 0;
  constructor(readonly list: BatchVersionInfo[]) {}
  async versions() {
    return this.list;
  }
  async readRows(version: number) {
    this.reads++;
    return [{ bucket: JAN1, states: kwh(version) }];
  }
  async readKeysRows(version: number, _v: unknown, _g: unknown, keys: readonly string[]) {
    this.reads++;
    return keys.map((key) => ({ key, bucket: JAN1, states: kwh(version) }));
  }
  async newestBucket() {
    return JAN1;
  }
}

/** A speed layer whose checkpoint and rows move together, as the real one's flush does. */
class MovingSpeed implements SpeedSource {
  through = 10;
  reads = 0;
  failRows = false;
  async checkpoints(): Promise<SpeedCheckpointInfo[]> {
    return [{ partition: 0, throughOffset: this.through, caughtUp: true, updatedAt: JAN1 }];
  }
  async readRows() {
    this.reads++;
    if (this.failRows) throw new Error('speed rows timed out');
    return [{ bucket: JAN1 + DAY, partition: 0, states: kwh(this.through) }];
  }
}

describe('merged answers cached under the pair identity', () => {
  const version: BatchVersionInfo = { version: 4, offsets: { 0: 5 }, createdAt: '2013-01-03T00:00:00Z', dataAsOf: '2013-01-03T00:00:00Z' };

  function sourcesWith(speed: MovingSpeed, batch: CountingBatch): QuerySources {
    return {
      batch: new CachedBatchSource(batch, 1_000),
      speed,
      partitions: 1,
      mergedCache: new LoadingCache<CachedMerge>('merged', 1_000, mergedSize),
    };
  }
  async function ask(sources: QuerySources) {
    const pair = await choosePair(sources);
    const rows = (await readMergedRows(sources, pair, meter15m, 'day', [KEY], JAN1, JAN1 + 3 * DAY)).get(KEY);
    return { pair, values: [...(rows ?? new Map()).entries()].map(([b, s]) => [b, s.importKwh]) };
  }

  it('answers a repeated query from memory until a checkpoint moves, then reads and answers the new state', async () => {
    const speed = new MovingSpeed();
    const batch = new CountingBatch([version]);
    const sources = sourcesWith(speed, batch);
    const first = await ask(sources);
    expect(first.values).toEqual([
      [JAN1, 4],
      [JAN1 + DAY, 10],
    ]);
    await ask(sources);
    await ask(sources);
    expect(speed.reads).toBe(1);
    expect(batch.reads).toBe(1);

    speed.through = 12; // the speed layer flushed: new rows and a new checkpoint
    const moved = await ask(sources);
    expect(moved.values).toEqual([
      [JAN1, 4],
      [JAN1 + DAY, 12],
    ]);
    expect(speed.reads).toBe(2);
    expect(batch.reads).toBe(1); // the batch version did not change: its rows still come from memory
  });

  it('does not keep an answer whose speed part was dropped, and marks every such answer stale', async () => {
    const speed = new MovingSpeed();
    const sources = sourcesWith(speed, new CountingBatch([version]));
    speed.failRows = true;
    const degraded = await ask(sources);
    expect(degraded.pair.stale).toBe(true);
    expect(degraded.pair.speed).toBeNull();
    expect(degraded.pair.warnings.join()).toContain('speed rows unreadable');
    expect(degraded.values).toEqual([[JAN1, 4]]);

    speed.failRows = false;
    const healed = await ask(sources);
    expect(healed.pair.stale).toBe(false);
    expect(healed.values).toEqual([
      [JAN1, 4],
      [JAN1 + DAY, 10],
    ]);
  });

  it('answers the same as with no cache at all', async () => {
    const speed = new MovingSpeed();
    const cached = await ask(sourcesWith(speed, new CountingBatch([version])));
    const { mergedCache: _unused, ...plain } = sourcesWith(speed, new CountingBatch([version]));
    const uncached = await ask(plain);
    expect(cached.values).toEqual(uncached.values);
  });
});
