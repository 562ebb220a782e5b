/** A sorted set of interval starts (epoch ms) with neighbour lookups, for register conversion. */
export class SortedStarts {
  private readonly items: number[] = [];

  /** Index of the first item >= value. */
  private lowerBound(value: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(value: number): boolean {
    return this.items[this.lowerBound(value)] === value;
  }

  add(value: number): void {
    const i = this.lowerBound(value);
    if (this.items[i] !== value) this.items.splice(i, 0, value);
  }

  delete(value: number): void {
    const i = this.lowerBound(value);
    if (this.items[i] === value) this.items.splice(i, 1);
  }

  /** Largest item < value. */
  before(value: number): number | undefined {
    const i = this.lowerBound(value);
    return i > 0 ? this.items[i - 1] : undefined;
  }

  /** Smallest item > value. */
  after(value: number): number | undefined {
    const i = this.lowerBound(value);
    const at = this.items[i];
    return at === value ? this.items[i + 1] : at;
  }

  /** Items in [from, to), ascending. */
  range(from: number, to: number): number[] {
    const out: number[] = [];
    for (let i = this.lowerBound(from); i < this.items.length && (this.items[i] as number) < to; i++) out.push(this.items[i] as number);
    return out;
  }
}
