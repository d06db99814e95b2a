/**
 * The BPE merge table: (left id, right id) -> (rank, merged id), as an open-addressing hash
 * table over typed arrays. A `Map<number, number>` keyed by `left * 2^bits + right` was the
 * load-time bottleneck (keys above 2^31 are heap numbers: an allocation per insert and slow
 * hashing), and every encode step does these lookups too.
 */

/** Linear probing stays short below this load factor. */
const MAX_LOAD = 0.5;

export class PairTable {
  private lefts: Int32Array;
  private rights: Int32Array;
  private ranks: Int32Array;
  private results: Int32Array;
  private mask: number;
  private count = 0;

  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity * MAX_LOAD < expected) capacity *= 2;
    this.mask = capacity - 1;
    this.lefts = new Int32Array(capacity).fill(-1);
    this.rights = new Int32Array(capacity);
    this.ranks = new Int32Array(capacity);
    this.results = new Int32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Multiplicative hash of the pair (ids are below 2^31). */
  private slotOf(left: number, right: number): number {
    return (Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x7f4a7c15, 0x85ebca77)) & this.mask;
  }

  /** The slot holding `left right`, or -1 when the pair does not merge. */
  find(left: number, right: number): number {
    const lefts = this.lefts;
    for (let slot = this.slotOf(left, right); ; slot = (slot + 1) & this.mask) {
      const stored = lefts[slot] as number;
      if (stored === -1) return -1;
      if (stored === left && this.rights[slot] === right) return slot;
    }
  }

  /** Merge rank at a slot returned by `find`. */
  rankAt(slot: number): number {
    return this.ranks[slot] as number;
  }

  /** Merged id at a slot returned by `find`. */
  resultAt(slot: number): number {
    return this.results[slot] as number;
  }

  /** Insert unless present (the first rule for a pair wins, as in HF). Returns whether inserted. */
  add(left: number, right: number, rank: number, result: number): boolean {
    if (this.count + 1 > (this.mask + 1) * MAX_LOAD) this.grow();
    const lefts = this.lefts;
    let slot = this.slotOf(left, right);
    for (; ; slot = (slot + 1) & this.mask) {
      const stored = lefts[slot] as number;
      if (stored === -1) break;
      if (stored === left && this.rights[slot] === right) return false;
    }
    lefts[slot] = left;
    this.rights[slot] = right;
    this.ranks[slot] = rank;
    this.results[slot] = result;
    this.count++;
    return true;
  }

  /** Every entry as [left, right, rank, result], in table order. */
  *entries(): IterableIterator<[number, number, number, number]> {
    for (let slot = 0; slot <= this.mask; slot++) {
      const left = this.lefts[slot] as number;
      if (left !== -1)
        yield [left, this.rights[slot] as number, this.ranks[slot] as number, this.results[slot] as number];
    }
  }

  private grow(): void {
    const old = [this.lefts, this.rights, this.ranks, this.results] as const;
    const capacity = (this.mask + 1) * 2;
    this.mask = capacity - 1;
    this.lefts = new Int32Array(capacity).fill(-1);
    this.rights = new Int32Array(capacity);
    this.ranks = new Int32Array(capacity);
    this.results = new Int32Array(capacity);
    this.count = 0;
    const [lefts, rights, ranks, results] = old;
    for (let slot = 0; slot < lefts.length; slot++) {
      const left = lefts[slot] as number;
      if (left !== -1) this.add(left, rights[slot] as number, ranks[slot] as number, results[slot] as number);
    }
  }
}
