import type { Channel, Meter } from '../../schemas/reading.ts';
import { type IntervalFact, intervalFact, type LoggedReading, registerFact, supersedes } from '../../schemas/views/index.ts';
import { SortedStarts } from './sorted-starts.ts';

/**
 * The readings of one meter channel that currently win (one per interval start, by the shared
 * winner rule), and the interval facts they make. Keeping every winner, not just running sums, is
 * what makes corrections exact: a correction can change a min or max (not invertible) and, for a
 * register, the facts of two intervals (its own and the next read's); both are recomputed from
 * the kept values instead of patched with deltas.
 *
 * Memory: one compact winner and at most one fact per interval the speed layer holds,
 * i.e. per meter channel × intervals since the batch offset — ~1 day × 96 for a 15-minute meter.
 */
export type FactChange = { start: number; before: IntervalFact | undefined; after: IntervalFact | undefined };

export interface OfferResult {
  changes: FactChange[];
  /**
   * True when this live copy changes what the batch version already counted: it corrects a
   * reading the batch covers, or it is a register read that moves the predecessor of a register
   * read the batch covers. batch ⊕ speed cannot express a retraction, so such buckets stay off
   * until the next batch run (see README "Across the batch boundary").
   */
  batchConflict: boolean;
}

/**
 * What is kept of a winning copy: only the fields the winner rule, the facts and a register
 * successor read, not the decoded reading (whose strings and flags are most of its size).
 */
interface Winner {
  intervalStart: number;
  intervalMinutes: number;
  value: number;
  register: boolean;
  correction: boolean;
  partition: number;
  offset: number;
  /** Primed: covered by the batch version (offset ≤ B); used for dedupe and as register predecessor, never counted here. */
  primed: boolean;
}

export class MeterChannelSeries {
  private readonly winners = new Map<number, Winner>();
  private readonly registerStarts = new SortedStarts();
  private readonly facts = new Map<number, IntervalFact>();
  /** Starts of `facts`, ascending: the facts of one bucket are a range of them. */
  private readonly factStarts = new SortedStarts();

  constructor(
    readonly meter: Meter,
    readonly channel: Channel,
  ) {}

  fact(start: number): IntervalFact | undefined {
    return this.facts.get(start);
  }

  /** Starts of the current facts in [from, to), ascending. */
  factStartsIn(from: number, to: number): number[] {
    return this.factStarts.range(from, to);
  }

  /**
   * Offers one copy of a reading. Returns the facts that changed, or undefined when the copy lost
   * to the current winner (a duplicate, or a plain re-send after the original).
   */
  offer(candidate: LoggedReading, primed = false): OfferResult | undefined {
    const start = candidate.reading.intervalStart;
    const incumbent = this.winners.get(start);
    if (incumbent !== undefined && !supersedes(candidate, loggedOf(incumbent))) return undefined;
    const r = candidate.reading;
    this.winners.set(start, {
      intervalStart: start,
      intervalMinutes: r.intervalMinutes,
      value: r.value,
      register: r.kind === 'register',
      correction: r.correction,
      partition: candidate.partition,
      offset: candidate.offset,
      primed,
    });
    if (r.kind === 'register') this.registerStarts.add(start);
    else this.registerStarts.delete(start);

    // The read at `start` and the next register read are the only facts a change here can move.
    const next = this.registerStarts.after(start);
    const touchesRegisters = r.kind === 'register' || incumbent?.register === true;
    const batchConflict =
      !primed && (incumbent?.primed === true || (next !== undefined && touchesRegisters && this.winners.get(next)?.primed === true));
    const changes: FactChange[] = [];
    this.refresh(start, changes);
    if (next !== undefined) this.refresh(next, changes);
    return { changes, batchConflict };
  }

  private refresh(s: number, changes: FactChange[]): void {
    const before = this.facts.get(s);
    const after = this.computeFact(s);
    if (after === undefined) {
      if (before !== undefined) {
        this.facts.delete(s);
        this.factStarts.delete(s);
      }
    } else {
      if (before === undefined) this.factStarts.add(s);
      this.facts.set(s, after);
    }
    if (!sameFact(before, after)) changes.push({ start: s, before, after });
  }

  private computeFact(start: number): IntervalFact | undefined {
    const winner = this.winners.get(start);
    if (winner === undefined || winner.primed) return undefined;
    if (!winner.register) return intervalFact(this.meter, this.channel, start, winner.intervalMinutes, winner.value);
    const previousStart = this.registerStarts.before(start);
    const previous = previousStart === undefined ? undefined : this.winners.get(previousStart);
    return registerFact(this.meter, this.channel, winner, previous);
  }
}

/** The incumbent as the shared winner rule reads it (only its correction flag and log position matter). */
function loggedOf(w: Winner): LoggedReading {
  return { reading: { correction: w.correction } as LoggedReading['reading'], partition: w.partition, offset: w.offset };
}

function sameFact(a: IntervalFact | undefined, b: IntervalFact | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.kwh === b.kwh && a.spanMinutes === b.spanMinutes && a.intervalMinutes === b.intervalMinutes;
}
