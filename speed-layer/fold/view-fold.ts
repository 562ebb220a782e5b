import { MeterflowError } from '../../core/errors.ts';
import type { MeterReading } from '../../schemas/reading.ts';
import {
  type AnyMonoidMeasure,
  bucketOf,
  compareRows,
  finalizeStates,
  type GrainId,
  type IntervalFact,
  type LoggedReading,
  type MeasureState,
  type MeasureStates,
  type MeterLookup,
  rowKeyOfMeter,
  unknownMeter,
  type ViewDefinition,
  type ViewRow,
} from '../../schemas/views/index.ts';
import { type FactChange, MeterChannelSeries } from './meter-channel-series.ts';

/**
 * The speed layer's state for ONE Kafka partition: every reading folded (with its offset) into the
 * partials of every view at every grain the view serves.
 *
 * How it stays exact under duplicates, corrections and any arrival order:
 * - readings are deduped per (meter, channel, interval start) by the shared winner rule, and each
 *   meter channel keeps its winners and facts (MeterChannelSeries);
 * - a (meter channel, grain, bucket) "member partial" is recomputed from that member's facts in the
 *   bucket, in interval order, when one of them changes;
 * - a view row partial (view, grain, key, bucket) is the plus of its member partials, recomputed at
 *   flush, in member-key order. So a row's value is a function of the set of facts only — never of
 *   arrival order — and it is exact for min/max, which cannot be retracted.
 *
 * `flush()` hands the speed layer the rows changed since the previous flush as ABSOLUTE states
 * (never deltas) plus the highest offset folded, so writing them is idempotent under replay.
 *
 * Memory, beyond the series: per grain, each (member, bucket) keeps its fact starts and a cached
 * partial; per view and grain, each row keeps its set of members.
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
  /** Highest offset folded so far (inclusive); undefined if nothing was ever folded. Commit offset + 1. */
  throughOffset: number | undefined;
  partials: DirtyPartial[];
  /**
   * Live readings since the last flush that change something the batch version already counted
   * (a correction of a primed reading, a register read moving a primed read's predecessor).
   * batch ⊕ speed is off for their buckets until the next batch run: alert, or trigger one.
   */
  batchConflicts: number;
}

/** won: this copy is now the reading's winner; ignored: an earlier copy or a later correction stays. */
export type FoldOutcome = 'won' | 'ignored';

interface MemberBucket {
  member: string;
  bucket: number;
  starts: Set<number>;
  /** Latest fact start in the bucket. */
  lastStart: number;
  /** Partial over all monoid measures of all views, folded in start order; undefined = recompute. */
  cached: MeasureStates | undefined;
}

interface RowEntry {
  view: ViewDefinition;
  grain: GrainId;
  key: string;
  bucket: number;
  members: Set<string>;
}

export class ViewFold {
  readonly partition: number;
  private readonly views: readonly ViewDefinition[];
  private readonly meters: MeterLookup;
  private readonly measures: readonly AnyMonoidMeasure[];
  private readonly grains: readonly GrainId[];
  private readonly series = new Map<string, MeterChannelSeries>();
  private readonly memberBuckets = new Map<string, MemberBucket>();
  private readonly rows = new Map<string, RowEntry>();
  private dirty = new Set<RowEntry>();
  /** Row key of each meter in each view (views.length entries), computed once per meter. */
  private readonly rowKeys = new Map<string, string[]>();
  private maxOffset: number | undefined;
  private batchConflicts = 0;

  constructor(options: ViewFoldOptions) {
    this.partition = options.partition;
    this.views = options.views;
    this.meters = options.meters;
    this.measures = unionOfMeasures(options.views);
    this.grains = [...new Set(options.views.flatMap((v) => v.grains))];
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
    const meter = this.meters(reading.meterId);
    if (meter === undefined) throw unknownMeter(reading.meterId);
    const member = memberKey(reading.meterId, reading.channel);
    let series = this.series.get(member);
    if (series === undefined) {
      series = new MeterChannelSeries(meter, reading.channel);
      this.series.set(member, series);
    }
    const logged: LoggedReading = { reading, partition: this.partition, offset };
    const result = series.offer(logged, primed);
    if (result === undefined) return 'ignored';
    if (result.batchConflict) this.batchConflicts++;
    for (const change of result.changes) this.applyFactChange(member, change);
    return 'won';
  }

  /** The rows changed since the last flush, with absolute states; clears the dirty set. */
  flush(): FlushBatch {
    const partials: DirtyPartial[] = [];
    for (const row of this.dirty) partials.push({ ...this.computeRow(row), removed: row.members.size === 0 });
    this.dirty = new Set();
    for (const p of partials) if (p.removed) this.rows.delete(rowId(p.view, p.grain, p.key, p.bucket));
    partials.sort((a, b) =>
      a.view < b.view ? -1 : a.view > b.view ? 1 : a.grain < b.grain ? -1 : a.grain > b.grain ? 1 : compareRows(a, b),
    );
    const batchConflicts = this.batchConflicts;
    this.batchConflicts = 0;
    return { partition: this.partition, throughOffset: this.maxOffset, partials, batchConflicts };
  }

  /** Every current row of `view` at `grain` (dirty or not), sorted by key then bucket. */
  snapshot(view: ViewDefinition, grain: GrainId): ViewRow[] {
    const out: ViewRow[] = [];
    for (const row of this.rows.values()) {
      if (row.view.name === view.name && row.grain === grain && row.members.size > 0) out.push(this.computeRow(row));
    }
    return out.sort(compareRows);
  }

  get throughOffset(): number | undefined {
    return this.maxOffset;
  }

  private applyFactChange(member: string, change: FactChange): void {
    const fact = change.after ?? change.before;
    if (fact === undefined) return;
    const meter = fact.meter;
    let keys = this.rowKeys.get(meter.meterId);
    if (keys === undefined) {
      keys = this.views.map((v) => rowKeyOfMeter(v.dimensions, meter));
      this.rowKeys.set(meter.meterId, keys);
    }
    for (const grain of this.grains) {
      const bucket = bucketOf(grain, change.start, meter.timeZone);
      const mbId = `${grain}\u0000${member}\u0000${bucket}`;
      let mb = this.memberBuckets.get(mbId);
      if (mb === undefined) {
        mb = { member, bucket, starts: new Set(), lastStart: Number.NEGATIVE_INFINITY, cached: undefined };
        this.memberBuckets.set(mbId, mb);
      }
      this.updateMemberBucket(mb, grain, change);
      const memberGone = mb.starts.size === 0;
      if (memberGone) this.memberBuckets.delete(mbId);

      this.views.forEach((view, v) => {
        if (!view.grains.includes(grain)) return;
        const key = (keys as string[])[v] as string;
        const id = rowId(view.name, grain, key, bucket);
        let row = this.rows.get(id);
        if (row === undefined) {
          row = { view, grain, key, bucket, members: new Set() };
          this.rows.set(id, row);
        }
        if (memberGone) row.members.delete(member);
        else row.members.add(member);
        this.dirty.add(row);
      });
    }
  }

  /**
   * A new fact after every other fact of the bucket (readings arriving in order: the common case)
   * is plussed onto the cached partial, which is exactly the in-order fold recomputing would give.
   * Anything else — a late fact inside the bucket, a changed or removed fact — drops the cache and
   * the partial is recomputed from the facts, in order, when next read.
   */
  private updateMemberBucket(mb: MemberBucket, grain: GrainId, change: FactChange): void {
    const { start, before, after } = change;
    if (after === undefined) mb.starts.delete(start);
    else mb.starts.add(start);
    if (before === undefined && after !== undefined && start > mb.lastStart && mb.cached !== undefined) {
      const ctx = { grain, bucket: mb.bucket };
      const next: Record<string, MeasureState> = {};
      for (const m of this.measures) next[m.name] = m.monoid.plus(mb.cached[m.name], m.lift(after, ctx));
      mb.cached = next;
    } else {
      mb.cached = undefined;
    }
    if (after !== undefined && start > mb.lastStart) mb.lastStart = start;
    if (after === undefined && start === mb.lastStart) mb.lastStart = Math.max(Number.NEGATIVE_INFINITY, ...mb.starts);
  }

  private computeRow(row: RowEntry): ViewRow {
    const states: Record<string, MeasureState> = {};
    for (const m of row.view.monoidMeasures) states[m.name] = m.monoid.zero;
    for (const member of [...row.members].sort()) {
      const partial = this.memberPartial(row.grain, member, row.bucket);
      for (const m of row.view.monoidMeasures) states[m.name] = m.monoid.plus(states[m.name], partial[m.name]);
    }
    return { view: row.view.name, grain: row.grain, key: row.key, bucket: row.bucket, states, values: finalizeStates(row.view, states) };
  }

  private memberPartial(grain: GrainId, member: string, bucket: number): MeasureStates {
    const mb = this.memberBuckets.get(`${grain}\u0000${member}\u0000${bucket}`);
    if (mb === undefined) throw new MeterflowError('MF_INTERNAL', `fold lost member bucket ${member} ${grain} ${bucket}`);
    if (mb.cached !== undefined) return mb.cached;
    const series = this.series.get(member) as MeterChannelSeries;
    const states: Record<string, MeasureState> = {};
    for (const m of this.measures) states[m.name] = m.monoid.zero;
    for (const start of [...mb.starts].sort((a, b) => a - b)) {
      const fact = series.fact(start) as IntervalFact;
      for (const m of this.measures) states[m.name] = m.monoid.plus(states[m.name], m.lift(fact, { grain, bucket }));
    }
    mb.cached = states;
    return states;
  }
}

function memberKey(meterId: string, channel: string): string {
  return `${meterId}/${channel}`;
}

function rowId(view: string, grain: string, key: string, bucket: number): string {
  return `${view}\u0000${grain}\u0000${key}\u0000${bucket}`;
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
