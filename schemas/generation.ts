/**
 * The contract between the batch and speed layers (DESIGN.md, "merge by offset"). A generation is
 * a published batch version V with the offsets B[p] of the readings topic it covered: batch(V)
 * holds every reading with offset ≤ B[p], speed(V) every reading with offset > B[p], so
 * batch(V) ⊕ speed(V) counts each accepted reading exactly once, whatever its event time.
 *
 * Generation 0 is "no batch yet": B[p] = -1 for every partition, so speed(0) holds the whole log.
 */
export interface Generation {
  /** The batch version; 0 before any batch run. */
  generation: number;
  /** Readings-topic partition → last offset included in the batch (-1: none). */
  offsets: Readonly<Record<number, number>>;
  publishedAt: number;
}

export const GENERATION_ZERO: Generation = { generation: 0, offsets: {}, publishedAt: 0 };

/** The first offset of partition p that belongs to the speed side of generation g. */
export function speedStartOffset(g: Generation, partition: number): number {
  return (g.offsets[partition] ?? -1) + 1;
}
