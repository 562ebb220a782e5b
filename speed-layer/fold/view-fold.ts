import { MeterflowError } from '../../core/errors.ts';
import type { Channel, Meter, MeterReading } from '../../schemas/reading.ts';
import {
  type AnyMonoidMeasure,
  bucketMinutes,
  bucketOf,
  compareRows,
  expectedCount,
  finalizeStates,
  type GrainId,
  type IntervalFact,
  type LoggedReading,
  type MeasureState,
  type MeterLookup,
  maxMonoid,
  minMonoid,
  rowKeyOfMeter,
  sumMonoid,
  uncountableReason,
  unknownMeter,
  type ViewDefinition,
  type ViewRow,
  type WeightedSet,
  weightedSetMonoid,
} from '../../schemas/views/index.ts';
import { type FactChange, MeterChannelSeries } from './meter-channel-series.ts';

/**
 * The speed layer's state for ONE Kafka partition: every reading folded (with its offset) into the
 * partials of every view at every grain the view serves.
 *
 * How it stays exact under duplicates, corrections and any arrival order:
 * - readings are deduped per (meter, channel, interval start) by the shared winner rule, and each
 *   meter channel keeps its winners and facts (MeterChannelSeries);
 * - a (meter channel, grain, bucket) "member partial" is the fold of that member's facts in the
 *   bucket, in interval order: a fact appended after every other fact of the bucket is plussed onto
 *   the partial (the same operations, in the same order, as refolding); anything else (a late fact
 *   inside the bucket, a corrected or removed fact) marks it stale and it is refolded when read;
 * - a view row partial (view, grain, key, bucket) is the plus of its member partials, recomputed at
 *   flush, in member-key order. So a row's value is a function of the set of facts only — never of
 *   arrival order — and it is exact for min/max, which cannot be retracted.
 *
 * `flush()` hands the speed layer the rows changed since the previous flush as ABSOLUTE states
 * (never deltas) plus the highest offset folded, so writing them is idempotent under replay.
 * `flush(limit)` hands over at most `limit` of them (the rest stay dirty) so a caller can write in
 * slices and yield to the event loop in between.
 *
 * Memory, beyond the series: per grain, each (member, bucket) keeps its sorted fact starts and its
 * partial; per view and grain, each row keeps its members sorted by key. Per-meter views at their
 * finest grain (ViewGrain.transient) keep neither once flushed: there a row is a bucket of one
 * meter, i.e. about one reading, and keeping it doubled the fold's memory. Measured on simulated
 * 15-minute data with every catalog view (.scratch-style probe in bench/fold.bench.ts, "heap"):
 * about 1.1 KB of heap per reading held (compact winner, fact, its lifts, the coarser member
 * buckets and rows), down from 2.1 KB when finest-grain rows were kept.
 *
 * Speed (what keeps it ≥ 100k readings/s; see bench/fold.bench.ts): no strings or luxon per
 * reading (members, buckets per zone and interval start, row links are cached), measures that do
 * not read the context are lifted once per fact rather than once per grain, member partials are
 * updated in place, and rows combine members with monoid-specific loops that perform exactly the
 * operations `monoid.plus` would, in the same order (linear, where a left fold of weighted-set
 * copies is quadratic in the row's members).
 */
export interface ViewFoldOptions {
  partition: number;
  views: readonly ViewDefinition[];
  meters: MeterLookup;
}

export interface DirtyPartial extends ViewRow {
  /** True when the row lost its last fact (a correction turned a register series' only fact away): delete it. */
  removed: boolean;
}

export interface FlushBatch {
  partition: number;
  /**
   * Highest offset folded so far (inclusive); undefined if nothing was ever folded. Commit offset + 1
   * — but only once a flush returned with `remaining` 0: rows still dirty are not written yet.
   */
  throughOffset: number | undefined;
  partials: DirtyPartial[];
  /**
   * Live readings since the last flush that change something the batch version already counted
   * (a correction of a primed reading, a register read moving a primed read's predecessor).
   * batch ⊕ speed is off for their buckets until the next batch run: alert, or trigger one.
   */
  batchConflicts: number;
  /** Rows still dirty after this batch (only a bounded `flush(limit)` leaves any). */
  remaining: number;
}

/** won: this copy is now the reading's winner; ignored: an earlier copy or a later correction stays. */
export type FoldOutcome = 'won' | 'ignored';

/** How a measure's states are combined: plain loops for the library monoids, `monoid.plus` otherwise. */
enum Combine {
  Sum,
  Min,
  Max,
  WeightedSet,
  Generic,
}

interface Slot {
  measure: AnyMonoidMeasure;
  combine: Combine;
  /** The lift declares no context parameter, so one lift per fact serves every grain. */
  contextFree: boolean;
  /** expectedCount: the lift is a function of (meter channel, grain, bucket) only, so the member partial never changes after its first fact. */
  perMember: boolean;
}

interface Member {
  /** `meterId/channel`, the order rows combine members in. */
  key: string;
  series: MeterChannelSeries;
  /** Bucket of each grain per interval start, shared by the meters of one time zone. */
  zoneBuckets: Map<number, number[]>;
  timeZone: string;
  /** Row key in each distinct view. */
  rowKeys: string[];
  /** Per view grain (index in the fold's list): the rows of this member's key, by bucket. */
  rowsByBucket: (Map<number, RowEntry> | undefined)[];
  /** Context-free lifts of each current fact, by start: refolding a bucket only plusses. */
  lifts: Map<number, MeasureState[]>;
  /** Per grain: bucket → member bucket. */
  buckets: Map<number, MemberBucket>[];
}

interface MemberBucket {
  member: Member;
  grain: number;
  bucket: number;
  /** Fact starts in the bucket, ascending. */
  starts: number[];
  /** Per measure slot: the fold of the facts in start order (valid unless `stale`). */
  partial: MeasureState[];
  stale: boolean;
  /** The rows (one per view serving the grain) this member bucket belongs to. */
  rows: RowEntry[];
  /** Flush epoch in which all `rows` were last marked dirty. */
  marked: number;
}

interface ViewGrain {
  /** Index in the fold's list of view grains. */
  index: number;
  view: ViewDefinition;
  /** Index of the view in the fold's distinct views. */
  view_: number;
  grain: GrainId;
  /** Position of (view name, grain) in flush order. */
  rank: number;
  /** Slot of each of the view's monoid measures, in declaration order. */
  slots: number[];
  /** Row key → bucket → row. */
  rows: Map<string, Map<number, RowEntry>>;
  /**
   * Rows of this view grain are not kept once flushed: a per-meter view at its finest grain,
   * where a row holds a meter's few facts of one 15-minute or hourly bucket. Kept, they were
   * most of the fold's memory (a row, a member bucket and their partials per reading); rebuilt
   * from the meter's facts, they cost one refold of those few facts when a copy for the bucket
   * comes again (a re-send, a correction).
   */
  transient: boolean;
}

interface RowEntry {
  vg: ViewGrain;
  key: string;
  bucket: number;
  /** The map holding this row (its key's rows, by bucket). */
  home: Map<number, RowEntry>;
  /** Sorted by member key. */
  members: MemberBucket[];
  dirty: boolean;
}

const ZONE_CACHE_LIMIT = 100_000;

export class ViewFold {
  readonly partition: number;
  private readonly views: readonly ViewDefinition[];
  private readonly meters: MeterLookup;
  private readonly slots: readonly Slot[];
  private readonly grains: readonly GrainId[];
  /** Per grain index, the view grains that serve it. */
  private readonly viewGrainsOf: readonly ViewGrain[][];
  private readonly viewGrains: readonly ViewGrain[];
  /** Per grain index: rows and member buckets dropped after each flush (ViewGrain.transient). */
  private readonly transient: readonly boolean[];
  private readonly members = new Map<string, Partial<Record<Channel, Member>>>();
  private readonly zoneBuckets = new Map<string, Map<number, number[]>>();
  /** Dirty rows not in `queue` (unsorted). */
  private pending: RowEntry[] = [];
  /** Dirty rows sorted by an earlier bounded flush, handed out from `queuePos` on. */
  private queue: RowEntry[] = [];
  private queuePos = 0;
  private epoch = 0;
  private maxOffset: number | undefined;
  private batchConflicts = 0;

  constructor(options: ViewFoldOptions) {
    this.partition = options.partition;
    // Rows are identified by view name: a second view of the same name shares the first one's rows.
    const byName = new Map<string, ViewDefinition>();
    for (const v of options.views) if (!byName.has(v.name)) byName.set(v.name, v);
    this.views = [...byName.values()];
    this.meters = options.meters;
    const measures = unionOfMeasures(options.views);
    this.slots = measures.map(slotOf);
    this.grains = [...new Set(options.views.flatMap((v) => v.grains))];
    const slotOfName = new Map(measures.map((m, i) => [m.name, i]));
    const viewGrains: ViewGrain[] = [];
    this.views.forEach((view, v) => {
      for (const grain of view.grains) {
        const slots = view.monoidMeasures.map((m) => slotOfName.get(m.name) as number);
        viewGrains.push({ index: viewGrains.length, view, view_: v, grain, rank: 0, slots, rows: new Map(), transient: false });
      }
    });
    const order = [...viewGrains].sort((a, b) => compareStrings(a.view.name, b.view.name) || compareStrings(a.grain, b.grain));
    order.forEach((vg, i) => {
      const prev = order[i - 1];
      vg.rank = prev !== undefined && prev.view.name === vg.view.name && prev.grain === vg.grain ? prev.rank : i;
    });
    this.viewGrains = viewGrains;
    this.viewGrainsOf = this.grains.map((g) => viewGrains.filter((vg) => vg.grain === g));
    // All view grains of a grain share its member buckets, so the grain is transient for all or none.
    this.transient = this.viewGrainsOf.map((vgs) => vgs.every(isTransient));
    for (const vg of viewGrains) vg.transient = this.transient[this.grains.indexOf(vg.grain)] as boolean;
  }

  /** Folds one reading read at `offset` of this fold's partition. Re-folding the same copy is a no-op. */
  fold(reading: MeterReading, offset: number): FoldOutcome {
    if (this.maxOffset === undefined || offset > this.maxOffset) this.maxOffset = offset;
    return this.offer(reading, offset, false);
  }

  /**
   * Primes the fold with a reading the batch version already covers (offset ≤ B[p]): it takes part
   * in dedupe (a re-send after B of a batch reading then counts once) and is the predecessor of the
   * first live register read (whose interval kWh would otherwise be lost between the two paths),
   * but it is never counted in speed partials — the batch counts it. Prime before folding; for
   * register meters the last read per meter channel before B is enough, for dedupe the readings of
   * the recent past that may be re-sent.
   */
  prime(reading: MeterReading, offset: number): FoldOutcome {
    return this.offer(reading, offset, true);
  }

  private offer(reading: MeterReading, offset: number, primed: boolean): FoldOutcome {
    // Like the batch SQL and the reference: such a copy takes no part, not even in dedupe.
    if (uncountableReason(reading) !== undefined) return 'ignored';
    const meter = this.meters(reading.meterId);
    if (meter === undefined) throw unknownMeter(reading.meterId);
    const member = this.memberOf(meter, reading);
    const logged: LoggedReading = { reading, partition: this.partition, offset };
    const result = member.series.offer(logged, primed);
    if (result === undefined) return 'ignored';
    if (result.batchConflict) this.batchConflicts++;
    for (const change of result.changes) this.applyFactChange(member, change);
    return 'won';
  }

  private memberOf(meter: Meter, reading: MeterReading): Member {
    let channels = this.members.get(reading.meterId);
    if (channels === undefined) {
      channels = {};
      this.members.set(reading.meterId, channels);
    }
    let member = channels[reading.channel];
    if (member === undefined) {
      let zoneBuckets = this.zoneBuckets.get(meter.timeZone);
      if (zoneBuckets === undefined) {
        zoneBuckets = new Map();
        this.zoneBuckets.set(meter.timeZone, zoneBuckets);
      }
      member = {
        key: `${reading.meterId}/${reading.channel}`,
        series: new MeterChannelSeries(meter, reading.channel),
        zoneBuckets,
        timeZone: meter.timeZone,
        rowKeys: this.views.map((v) => rowKeyOfMeter(v.dimensions, meter)),
        rowsByBucket: this.viewGrains.map(() => undefined),
        lifts: new Map(),
        buckets: this.grains.map(() => new Map()),
      };
      channels[reading.channel] = member;
    }
    return member;
  }

  /**
   * The rows changed since the last flush, with absolute states, sorted by view, grain, key and
   * bucket. With `limit`, at most that many (taken in that order from the rows dirty at the first
   * call of a run of bounded flushes); the rest stay dirty for the next call, and `remaining` says
   * how many. Without, every dirty row, as one batch.
   */
  flush(limit?: number): FlushBatch {
    if (limit !== undefined && !(limit >= 0)) {
      throw new MeterflowError('MF_INTERNAL', `flush limit must be a number >= 0, got ${limit}`, { details: { limit } });
    }
    this.epoch++;
    let rows: RowEntry[];
    const dirty = this.pending.length + this.queue.length - this.queuePos;
    if (limit === undefined || dirty <= limit) {
      rows = this.queuePos < this.queue.length ? this.queue.slice(this.queuePos).concat(this.pending) : this.pending;
      rows = sortEntries(rows);
      this.pending = [];
      this.queue = [];
      this.queuePos = 0;
    } else {
      rows = [];
      const max = Math.floor(limit);
      while (rows.length < max) {
        if (this.queuePos >= this.queue.length) {
          if (this.pending.length === 0) break;
          this.queue = sortEntries(this.pending);
          this.queuePos = 0;
          this.pending = [];
        }
        const take = Math.min(max - rows.length, this.queue.length - this.queuePos);
        for (let i = 0; i < take; i++) rows.push(this.queue[this.queuePos + i] as RowEntry);
        this.queuePos += take;
      }
      if (this.queuePos >= this.queue.length) {
        this.queue = [];
        this.queuePos = 0;
      }
    }
    const partials: DirtyPartial[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as RowEntry;
      row.dirty = false;
      const removed = row.members.length === 0;
      const { view, grain, key, bucket, states, values } = this.computeRow(row);
      partials[i] = { view, grain, key, bucket, states, values, removed };
      if (removed) row.home.delete(row.bucket);
      else if (row.vg.transient) this.evict(row);
    }
    const batchConflicts = this.batchConflicts;
    this.batchConflicts = 0;
    const remaining = this.pending.length + this.queue.length - this.queuePos;
    return { partition: this.partition, throughOffset: this.maxOffset, partials, batchConflicts, remaining };
  }

  /**
   * Forgets which rows are dirty without computing them: for a fold rebuilt in memory up to an
   * offset whose rows Cassandra already holds (the partition's checkpoint), so a restart rewrites
   * only what changed after it. Removed rows leave the fold exactly as a flush would remove them.
   */
  markClean(): void {
    this.epoch++;
    const rows = this.queuePos < this.queue.length ? this.queue.slice(this.queuePos).concat(this.pending) : this.pending;
    for (const row of rows) {
      row.dirty = false;
      if (row.members.length === 0) row.home.delete(row.bucket);
    }
    for (const row of rows) if (row.vg.transient && row.members.length > 0) this.evict(row);
    this.pending = [];
    this.queue = [];
    this.queuePos = 0;
    this.batchConflicts = 0;
  }

  /** Every current row of `view` at `grain` (dirty or not), sorted by key then bucket. */
  snapshot(view: ViewDefinition, grain: GrainId): ViewRow[] {
    const out: ViewRow[] = [];
    for (const vg of this.viewGrains) {
      if (vg.view.name !== view.name || vg.grain !== grain) continue;
      if (vg.transient) this.materializeAll(this.grains.indexOf(grain));
      for (const byBucket of vg.rows.values()) {
        for (const row of byBucket.values()) if (row.members.length > 0) out.push(this.computeRow(row));
      }
      if (vg.transient) {
        for (const byBucket of vg.rows.values())
          for (const row of [...byBucket.values()]) if (!row.dirty && row.members.length > 0) this.evict(row);
      }
    }
    return out.sort(compareRows);
  }

  /** Every bucket of a transient grain back in memory, without marking anything dirty. */
  private materializeAll(g: number): void {
    for (const channels of this.members.values()) {
      for (const member of Object.values(channels)) {
        for (const start of member.series.factStartsIn(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)) {
          const bucket = (this.bucketsAt(member, start) as number[])[g] as number;
          if (!this.rowInMemory(member, g, bucket)) this.materialize(member, g, bucket, false);
        }
      }
    }
  }

  get throughOffset(): number | undefined {
    return this.maxOffset;
  }

  private bucketsAt(member: Member, start: number): number[] {
    let buckets = member.zoneBuckets.get(start);
    if (buckets === undefined) {
      buckets = this.grains.map((g) => bucketOf(g, start, member.timeZone));
      if (member.zoneBuckets.size >= ZONE_CACHE_LIMIT) member.zoneBuckets.clear();
      member.zoneBuckets.set(start, buckets);
    }
    return buckets;
  }

  private applyFactChange(member: Member, change: FactChange): void {
    const { start, before, after } = change;
    const fact = after ?? before;
    if (fact === undefined) return;
    const buckets = this.bucketsAt(member, start);
    /** Context-free lifts of `after`, shared by every grain and kept for refolds. */
    let lifted: MeasureState[] | undefined;
    if (after === undefined) member.lifts.delete(start);
    else {
      lifted = this.liftContextFree(after);
      member.lifts.set(start, lifted);
    }
    for (let g = 0; g < this.grains.length; g++) {
      const bucket = buckets[g] as number;
      const byBucket = member.buckets[g] as Map<number, MemberBucket>;
      let mb = byBucket.get(bucket);
      if (mb === undefined && this.transient[g] && !this.rowInMemory(member, g, bucket)) {
        // The series already holds the change: the rebuilt row is its state after it.
        this.materialize(member, g, bucket, true);
        continue;
      }
      const created = mb === undefined;
      if (mb === undefined) {
        mb = { member, grain: g, bucket, starts: [], partial: this.zeroPartial(), stale: false, rows: [], marked: -1 };
        byBucket.set(bucket, mb);
      }
      const starts = mb.starts;
      const last = starts.length === 0 ? Number.NEGATIVE_INFINITY : (starts[starts.length - 1] as number);
      if (after === undefined) {
        removeSorted(starts, start);
        mb.stale = true;
      } else if (start > last) {
        starts.push(start);
        if (before === undefined && !mb.stale) {
          this.append(mb, after, lifted as MeasureState[]);
        } else {
          mb.stale = true;
        }
      } else {
        insertSorted(starts, start);
        mb.stale = true;
      }

      if (starts.length === 0) {
        byBucket.delete(bucket);
        for (const row of mb.rows) {
          removeMember(row.members, mb);
          this.markDirty(row);
        }
      } else if (created) {
        this.attach(mb);
      } else if (mb.marked !== this.epoch) {
        for (const row of mb.rows) this.markDirty(row);
        mb.marked = this.epoch;
      }
    }
  }

  private rowInMemory(member: Member, g: number, bucket: number): boolean {
    const vg = (this.viewGrainsOf[g] as ViewGrain[])[0] as ViewGrain;
    const home = member.rowsByBucket[vg.index] ?? vg.rows.get(member.rowKeys[vg.view_] as string);
    return home?.get(bucket) !== undefined;
  }

  /**
   * Rebuilds the rows of a transient grain's bucket from the facts of the meter's channels (the
   * rows' members). With no fact left, an empty row is marked dirty so the flush removes the
   * stored one. `dirty` false: for reading the state (snapshot), not for writing it again.
   */
  private materialize(member: Member, g: number, bucket: number, dirty: boolean): void {
    const grain = this.grains[g] as GrainId;
    const to = bucket + bucketMinutes(grain, bucket, member.timeZone) * 60_000;
    const channels = this.members.get(member.series.meter.meterId) ?? {};
    let any = false;
    for (const sibling of Object.values(channels)) {
      const starts = sibling.series.factStartsIn(bucket, to);
      if (starts.length === 0) continue;
      const mb: MemberBucket = {
        member: sibling,
        grain: g,
        bucket,
        starts,
        partial: this.zeroPartial(),
        stale: true,
        rows: [],
        marked: -1,
      };
      (sibling.buckets[g] as Map<number, MemberBucket>).set(bucket, mb);
      this.attach(mb, dirty);
      any = true;
    }
    if (any || !dirty) return;
    for (const vg of this.viewGrainsOf[g] as ViewGrain[]) {
      const key = member.rowKeys[vg.view_] as string;
      let home = vg.rows.get(key);
      if (home === undefined) {
        home = new Map();
        vg.rows.set(key, home);
      }
      const row: RowEntry = { vg, key, bucket, home, members: [], dirty: false };
      home.set(bucket, row);
      this.markDirty(row);
    }
  }

  /** Drops a flushed row of a transient grain with its member buckets, once none of their rows is dirty. */
  private evict(row: RowEntry): void {
    for (const mb of row.members) for (const r of mb.rows) if (r.dirty) return;
    for (const mb of row.members) {
      (mb.member.buckets[mb.grain] as Map<number, MemberBucket>).delete(mb.bucket);
      for (const r of mb.rows) r.home.delete(r.bucket);
    }
  }

  /** Links a new member bucket to its row in every view serving its grain (creating rows as needed). */
  private attach(mb: MemberBucket, dirty = true): void {
    const member = mb.member;
    for (const vg of this.viewGrainsOf[mb.grain] as ViewGrain[]) {
      const key = member.rowKeys[vg.view_] as string;
      let home = member.rowsByBucket[vg.index];
      if (home === undefined) {
        home = vg.rows.get(key);
        if (home === undefined) {
          home = new Map();
          vg.rows.set(key, home);
        }
        member.rowsByBucket[vg.index] = home;
      }
      let row = home.get(mb.bucket);
      if (row === undefined) {
        row = { vg, key, bucket: mb.bucket, home, members: [], dirty: false };
        home.set(mb.bucket, row);
      }
      insertMember(row.members, mb);
      mb.rows.push(row);
      if (dirty) this.markDirty(row);
    }
    mb.marked = this.epoch;
  }

  private markDirty(row: RowEntry): void {
    if (row.dirty) return;
    row.dirty = true;
    this.pending.push(row);
  }

  private zeroPartial(): MeasureState[] {
    const out: MeasureState[] = new Array(this.slots.length);
    for (let i = 0; i < this.slots.length; i++) out[i] = (this.slots[i] as Slot).measure.monoid.zero;
    return out;
  }

  private liftContextFree(fact: IntervalFact): MeasureState[] {
    const out: MeasureState[] = new Array(this.slots.length);
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i] as Slot;
      // Context-free lifts ignore the context: any will do.
      if (slot.contextFree) out[i] = slot.measure.lift(fact, NO_CONTEXT);
    }
    return out;
  }

  /** partial := partial ⊕ lift(fact), the step refolding the bucket in start order would take last. */
  private append(mb: MemberBucket, fact: IntervalFact, lifted: MeasureState[]): void {
    const partial = mb.partial;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i] as Slot;
      const a = partial[i] as MeasureState;
      if (slot.perMember) {
        // zero ⊕ x = x; x ⊕ x' = x for every later fact (same member key and weight).
        if (a === slot.measure.monoid.zero)
          partial[i] = slot.measure.lift(fact, { grain: this.grains[mb.grain] as GrainId, bucket: mb.bucket });
        continue;
      }
      const b = slot.contextFree ? lifted[i] : slot.measure.lift(fact, { grain: this.grains[mb.grain] as GrainId, bucket: mb.bucket });
      partial[i] = plusOf(slot, a, b as MeasureState);
    }
  }

  /** The member bucket's partial, refolded from its facts in start order if stale. */
  private partialOf(mb: MemberBucket): MeasureState[] {
    if (!mb.stale) return mb.partial;
    const { series, lifts } = mb.member;
    const ctx = { grain: this.grains[mb.grain] as GrainId, bucket: mb.bucket };
    const partial = this.zeroPartial();
    for (const start of mb.starts) {
      const fact = series.fact(start);
      const lifted = lifts.get(start);
      if (fact === undefined || lifted === undefined) throw new MeterflowError('MF_INTERNAL', `fold lost fact ${mb.member.key} ${start}`);
      for (let i = 0; i < this.slots.length; i++) {
        const slot = this.slots[i] as Slot;
        const a = partial[i] as MeasureState;
        if (slot.perMember) {
          if (a === slot.measure.monoid.zero) partial[i] = slot.measure.lift(fact, ctx);
        } else {
          partial[i] = plusOf(slot, a, (slot.contextFree ? lifted[i] : slot.measure.lift(fact, ctx)) as MeasureState);
        }
      }
    }
    mb.partial = partial;
    mb.stale = false;
    return partial;
  }

  /** The row's states: for each measure, zero ⊕ member₁ ⊕ member₂ ⊕ … in member-key order. */
  private computeRow(row: RowEntry): ViewRow {
    const { vg, members } = row;
    const partials: MeasureState[][] = new Array(members.length);
    for (let j = 0; j < members.length; j++) partials[j] = this.partialOf(members[j] as MemberBucket);
    const states: Record<string, MeasureState> = {};
    const measures = vg.view.monoidMeasures;
    for (let k = 0; k < measures.length; k++) {
      const s = vg.slots[k] as number;
      const slot = this.slots[s] as Slot;
      states[(measures[k] as AnyMonoidMeasure).name] = combineMembers(slot, partials, s);
    }
    return { view: vg.view.name, grain: vg.grain, key: row.key, bucket: row.bucket, states, values: finalizeStates(vg.view, states) };
  }
}

const NO_CONTEXT = Object.freeze({ grain: '15m', bucket: 0 }) as { grain: GrainId; bucket: number };

/** A per-meter view at its finest grain (15 minutes or an hour): see ViewGrain.transient. */
function isTransient(vg: ViewGrain): boolean {
  const { view, grain } = vg;
  return (
    (grain === '15m' || grain === 'hour') && view.grains[0] === grain && view.dimensions.length === 1 && view.dimensions[0] === 'meter'
  );
}

function slotOf(measure: AnyMonoidMeasure): Slot {
  const monoid = measure.monoid;
  const combine =
    monoid === sumMonoid
      ? Combine.Sum
      : monoid === minMonoid
        ? Combine.Min
        : monoid === maxMonoid
          ? Combine.Max
          : monoid === weightedSetMonoid
            ? Combine.WeightedSet
            : Combine.Generic;
  // A lift declaring fewer than two parameters cannot read the context (lifts are arrow functions).
  return { measure, combine, contextFree: measure.lift.length < 2, perMember: measure === expectedCount };
}

/** Exactly `slot.measure.monoid.plus(a, b)`. */
function plusOf(slot: Slot, a: MeasureState, b: MeasureState): MeasureState {
  switch (slot.combine) {
    case Combine.Sum:
      return (a as number) + (b as number);
    case Combine.Min:
      return a === null ? b : b === null ? a : Math.min(a as number, b as number);
    case Combine.Max:
      return a === null ? b : b === null ? a : Math.max(a as number, b as number);
    default:
      return slot.measure.monoid.plus(a, b);
  }
}

/** zero ⊕ partials[0][s] ⊕ partials[1][s] ⊕ …, left to right: the same value a left fold of `plus` gives. */
function combineMembers(slot: Slot, partials: MeasureState[][], s: number): MeasureState {
  const n = partials.length;
  switch (slot.combine) {
    case Combine.Sum: {
      let acc = slot.measure.monoid.zero as number;
      for (let j = 0; j < n; j++) acc = acc + ((partials[j] as MeasureState[])[s] as number);
      return acc;
    }
    case Combine.Min:
    case Combine.Max: {
      const min = slot.combine === Combine.Min;
      let acc = slot.measure.monoid.zero as number | null;
      for (let j = 0; j < n; j++) {
        const b = (partials[j] as MeasureState[])[s] as number | null;
        if (b === null) continue;
        acc = acc === null ? b : min ? Math.min(acc, b) : Math.max(acc, b);
      }
      return acc;
    }
    case Combine.WeightedSet: {
      // weightedSetMonoid.plus copies its left side on every step, quadratic over a fleet row; this
      // builds the same object (same keys, insertion order and weights) by mutating one private copy.
      let acc = slot.measure.monoid.zero as WeightedSet;
      let owned: Record<string, number> | undefined;
      for (let j = 0; j < n; j++) {
        const b = (partials[j] as MeasureState[])[s] as WeightedSet;
        if (owned === undefined && isEmpty(acc)) {
          acc = b;
          continue;
        }
        if (isEmpty(b)) continue;
        if (owned === undefined) {
          owned = { ...acc };
          acc = owned;
        }
        for (const k of Object.keys(b)) {
          const current = owned[k];
          const w = b[k] as number;
          owned[k] = current === undefined ? w : Math.max(current, w);
        }
      }
      return acc;
    }
    default: {
      let acc = slot.measure.monoid.zero as MeasureState;
      for (let j = 0; j < n; j++) acc = slot.measure.monoid.plus(acc, (partials[j] as MeasureState[])[s]);
      return acc;
    }
  }
}

function isEmpty(set: WeightedSet): boolean {
  for (const _ in set) return false;
  return true;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Flush order: view name, grain, then key and bucket (compareRows). Rows are grouped by their home
 * (one per view grain and key) first, so strings are compared only between the keys, not the rows.
 */
function sortEntries(rows: RowEntry[]): RowEntry[] {
  const byHome = new Map<Map<number, RowEntry>, RowEntry[]>();
  for (const row of rows) {
    const group = byHome.get(row.home);
    if (group === undefined) byHome.set(row.home, [row]);
    else group.push(row);
  }
  const groups = [...byHome.values()].sort((a, b) => {
    const x = a[0] as RowEntry;
    const y = b[0] as RowEntry;
    return x.vg.rank - y.vg.rank || compareStrings(x.key, y.key);
  });
  const out: RowEntry[] = new Array(rows.length);
  let i = 0;
  for (const group of groups) {
    if (group.length > 1) group.sort((a, b) => a.bucket - b.bucket);
    for (const row of group) out[i++] = row;
  }
  return out;
}

/** Index of the first item ≥ value. */
function lowerBound(items: readonly number[], value: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((items[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(items: number[], value: number): void {
  const i = lowerBound(items, value);
  if (items[i] !== value) items.splice(i, 0, value);
}

function removeSorted(items: number[], value: number): void {
  const i = lowerBound(items, value);
  if (items[i] === value) items.splice(i, 1);
}

/** Index of the first member whose key is ≥ key. */
function memberBound(members: readonly MemberBucket[], key: string): number {
  let lo = 0;
  let hi = members.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((members[mid] as MemberBucket).member.key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertMember(members: MemberBucket[], mb: MemberBucket): void {
  const last = members[members.length - 1];
  if (last === undefined || last.member.key < mb.member.key) {
    members.push(mb);
    return;
  }
  const i = memberBound(members, mb.member.key);
  if (members[i] !== mb) members.splice(i, 0, mb);
}

function removeMember(members: MemberBucket[], mb: MemberBucket): void {
  const i = memberBound(members, mb.member.key);
  if (members[i] === mb) members.splice(i, 1);
}

/** Measures are shared across views by name; two different measures under one name would corrupt member partials. */
function unionOfMeasures(views: readonly ViewDefinition[]): AnyMonoidMeasure[] {
  const byName = new Map<string, AnyMonoidMeasure>();
  for (const view of views) {
    for (const m of view.monoidMeasures) {
      const seen = byName.get(m.name);
      if (seen !== undefined && seen !== m) {
        throw new MeterflowError(
          'MF_VIEW_INVALID',
          `two different measures are named ${m.name} (view ${view.name}); measure names must be unique across views`,
          {
            details: { view: view.name, measure: m.name },
          },
        );
      }
      byName.set(m.name, m);
    }
  }
  return [...byName.values()];
}
