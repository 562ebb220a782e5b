/**
 * The commutative monoids measures are built from. `plus` must be associative and commutative with
 * `zero` as identity (property-tested for every measure in measures.test.ts): that is what lets
 * partials from any partition, any batch shard, batch ⊕ speed, merge exactly in any order.
 */
export interface Monoid<S> {
  readonly zero: S;
  plus(a: S, b: S): S;
}

export const sumMonoid: Monoid<number> = {
  zero: 0,
  plus: (a, b) => a + b,
};

/** null is the identity (no value yet), so a bucket with no qualifying interval reports null, not ±Infinity. */
export const minMonoid: Monoid<number | null> = {
  zero: null,
  plus: (a, b) => (a === null ? b : b === null ? a : Math.min(a, b)),
};

export const maxMonoid: Monoid<number | null> = {
  zero: null,
  plus: (a, b) => (a === null ? b : b === null ? a : Math.max(a, b)),
};

/**
 * Members with a weight, counted once however often they are seen: a set union where the weight of
 * a member is a function of the member (so two copies always agree; max keeps plus total and
 * deterministic if they ever did not). Idempotent as well as commutative, which is exactly what a
 * "distinct" measure needs to survive batch ⊕ speed and partition merges without double counting.
 * The state is a plain object, key → weight.
 */
export type WeightedSet = Readonly<Record<string, number>>;

export const weightedSetMonoid: Monoid<WeightedSet> = {
  zero: Object.freeze({}),
  plus: (a, b) => {
    const aKeys = Object.keys(a);
    if (aKeys.length === 0) return b;
    if (Object.keys(b).length === 0) return a;
    const out: Record<string, number> = { ...a };
    for (const [k, w] of Object.entries(b)) {
      const current = out[k];
      out[k] = current === undefined ? w : Math.max(current, w);
    }
    return out;
  },
};

/** Total weight, summed in key order so every path gets the same floating-point result. */
export function weightedSetTotal(set: WeightedSet): number {
  let total = 0;
  for (const key of Object.keys(set).sort()) total += set[key] as number;
  return total;
}
