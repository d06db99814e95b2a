/**
 * N-gram counting over a stream of unit ids: every k-gram (k = 1..order) inside a sentence,
 * <s> prepended to each sentence and </s> ending it, counted once per occurrence. The
 * corpus is one Int32Array of ids in which every sentence ends with </s> (<s> is implied
 * at each start): `the cat </s> a dog </s>`.
 *
 * Counting keeps, for the current position, the index of the n-gram of each length ending
 * there; the next position's k-gram is its (k-1)-gram prefix's index and the new word, one
 * hash lookup (an open-addressing table over typed arrays). At the end each order is
 * sorted into the trie layout of trie.ts, prefix indices renumbered order by order.
 *
 * Legend: V vocabulary size, N the highest order.
 */
import { ConfigError } from '../util/errors.js';
import { checkKeySpace, findChild, sortWithRanks } from './trie.js';
import { bosId, eosId } from './vocabulary.js';

/** The highest order lmforge counts. */
export const maxNgramOrder = 6;

/** Raw counts of every k-gram, k = 1..order, in the trie layout (trie.ts). */
export interface NgramCounts {
  readonly order: number;
  readonly vocabSize: number;
  /** `keys[k - 1]`: the sorted keys of order k; null for k = 1 (unigram w is index w). */
  readonly keys: readonly (Float64Array | null)[];
  /** `counts[k - 1][i]`: occurrences of entry i of order k (for <s>: the number of sentences). */
  readonly counts: readonly Uint32Array[];
  /** Sentences counted. */
  readonly sentences: number;
  /** Units counted, </s> included, <s> not. */
  readonly tokens: number;
}

/** A growable map from exact-integer keys (< 2^53) to dense indices, counting each insert. */
class KeyCounter {
  #slots: Int32Array; // dense index + 1, 0 = empty
  #mask: number;
  keys: Float64Array = new Float64Array(1024);
  counts: Uint32Array = new Uint32Array(1024);
  size = 0;

  constructor() {
    this.#slots = new Int32Array(2048);
    this.#mask = 2047;
  }

  /** The dense index of `key` (inserted if new), its count incremented. */
  add(key: number): number {
    const slots = this.#slots;
    let slot = hash(key) & this.#mask;
    for (;;) {
      const entry = slots[slot]!;
      if (entry === 0) break;
      if (this.keys[entry - 1] === key) {
        this.counts[entry - 1]!++;
        return entry - 1;
      }
      slot = (slot + 1) & this.#mask;
    }
    const index = this.size++;
    if (index === this.keys.length) this.#growEntries();
    this.keys[index] = key;
    this.counts[index] = 1;
    slots[slot] = index + 1;
    if (2 * this.size > this.#mask) this.#rehash();
    return index;
  }

  #growEntries(): void {
    const keys = new Float64Array(this.keys.length * 2);
    keys.set(this.keys);
    this.keys = keys;
    const counts = new Uint32Array(this.counts.length * 2);
    counts.set(this.counts);
    this.counts = counts;
  }

  #rehash(): void {
    const slots = new Int32Array(this.#slots.length * 2);
    const mask = slots.length - 1;
    for (let i = 0; i < this.size; i++) {
      let slot = hash(this.keys[i]!) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = i + 1;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}

/** A 32-bit mix of both halves of an integer key (murmur3's finaliser on a combination). */
function hash(key: number): number {
  const lo = key >>> 0;
  const hi = (key / 4294967296) >>> 0;
  let h = Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi ^ (hi >>> 15), 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export function checkOrder(order: number, where: string): void {
  if (!(Number.isInteger(order) && order >= 1 && order <= maxNgramOrder)) {
    throw new ConfigError('n-gram order out of range', {
      where,
      expected: `an integer in [1, ${maxNgramOrder}]`,
      actual: order,
    });
  }
}

/**
 * Counts the n-grams of orders 1..`order` in `corpus` (sentences of ids < vocabSize, each
 * ending with </s>; see the file header).
 *
 * @example
 * const counts = countNgrams(Int32Array.of(3, 4, eosId), 3, 5); // "the cat" with the, cat = 3, 4
 * counts.counts[1]; // 3 bigrams: <s> the, the cat, cat </s>
 */
export function countNgrams(corpus: Int32Array, order: number, vocabSize: number): NgramCounts {
  const where = 'countNgrams';
  checkOrder(order, where);
  if (corpus.length === 0 || corpus[corpus.length - 1] !== eosId) {
    throw new ConfigError('the corpus must be sentences that each end with </s>', {
      where,
      actual: corpus.length === 0 ? 'no ids' : `last id ${corpus[corpus.length - 1]}`,
    });
  }
  const V = vocabSize;
  const unigrams = new Uint32Array(V);
  const tables = Array.from({ length: order - 1 }, () => new KeyCounter());
  // ending[k]: index of the k-gram that ends at the previous position (-1: none), k = 1..order.
  let ending = new Int32Array(order + 1).fill(-1);
  let next = new Int32Array(order + 1).fill(-1);
  ending[1] = bosId;
  let sentences = 0;
  for (let p = 0; p < corpus.length; p++) {
    const w = corpus[p]!;
    if (!(w >= 0 && w < V) || w === bosId) {
      throw new ConfigError('corpus id outside the vocabulary (or a <s> inside a sentence)', {
        where: `${where}: corpus[${p}]`,
        expected: `[0, ${V}) without ${bosId} (<s>)`,
        actual: w,
      });
    }
    unigrams[w]!++;
    next[1] = w;
    for (let k = 2; k <= order; k++) {
      const prefix = ending[k - 1]!;
      next[k] = prefix < 0 ? -1 : tables[k - 2]!.add(prefix * V + w);
    }
    if (w === eosId) {
      sentences++;
      next.fill(-1);
      next[1] = bosId;
    }
    [ending, next] = [next, ending];
  }
  unigrams[bosId] = sentences;
  return sortLevels(tables, unigrams, order, V, sentences, corpus.length);
}

/** The hash tables' insertion-order entries as sorted trie levels, prefixes renumbered. */
function sortLevels(
  tables: readonly KeyCounter[],
  unigrams: Uint32Array,
  order: number,
  V: number,
  sentences: number,
  tokens: number,
): NgramCounts {
  const keys: (Float64Array | null)[] = [null];
  const counts: Uint32Array[] = [unigrams];
  let previousRank: Int32Array | null = null; // insertion index -> sorted index of the previous order
  let previousSize = V;
  for (let k = 2; k <= order; k++) {
    const table = tables[k - 2]!;
    checkKeySpace(previousSize, V, `countNgrams: order ${k}`);
    const raw = table.keys.subarray(0, table.size);
    if (previousRank !== null) {
      for (let i = 0; i < raw.length; i++) {
        const parent = Math.floor(raw[i]! / V);
        raw[i] = previousRank[parent]! * V + (raw[i]! - parent * V);
      }
    }
    const { sorted, rank } = sortWithRanks(raw);
    const sortedCounts = new Uint32Array(table.size);
    for (let i = 0; i < table.size; i++) sortedCounts[rank[i]!] = table.counts[i]!;
    keys.push(sorted);
    counts.push(sortedCounts);
    previousRank = rank;
    previousSize = table.size;
  }
  return { order, vocabSize: V, keys, counts, sentences, tokens };
}

/**
 * Index of the n-gram `ids` (first to last) in order ids.length, or -1 when it was never
 * seen; `keys` as NgramCounts and NgramModel levels hold them.
 */
export function ngramIndex(
  keys: readonly (Float64Array | null)[],
  ids: readonly number[],
  V: number,
): number {
  if (ids.length === 0 || ids.length > keys.length) return -1;
  let index = ids[0]! >= 0 && ids[0]! < V ? ids[0]! : -1;
  for (let k = 2; k <= ids.length && index >= 0; k++) index = findChild(keys[k - 1]!, index, ids[k - 1]!, V);
  return index;
}

/** Raw count of the n-gram `ids` (0 when never seen). */
export function ngramCount(counts: NgramCounts, ids: readonly number[]): number {
  const index = ngramIndex(counts.keys, ids, counts.vocabSize);
  return index < 0 ? 0 : counts.counts[ids.length - 1]![index]!;
}

/** The prefix and last word of every entry of each order, and whether it starts with <s>. */
export interface NgramStructure {
  /** `parents[k - 1][i]`: index in order k - 1 of the prefix of entry i of order k (null for k = 1). */
  readonly parents: readonly (Int32Array | null)[];
  /** `words[k - 1][i]`: the last unit of entry i of order k (null for k = 1: entry w is unit w). */
  readonly words: readonly (Int32Array | null)[];
  /** `startsWithBos[k - 1][i]`: 1 when entry i of order k starts with <s>. */
  readonly startsWithBos: readonly Uint8Array[];
}

export function ngramStructure(counts: NgramCounts): NgramStructure {
  const V = counts.vocabSize;
  const parents: (Int32Array | null)[] = [null];
  const words: (Int32Array | null)[] = [null];
  const unigramBos = new Uint8Array(V);
  unigramBos[bosId] = 1;
  const startsWithBos: Uint8Array[] = [unigramBos];
  for (let k = 2; k <= counts.order; k++) {
    const keys = counts.keys[k - 1]!;
    const parent = new Int32Array(keys.length);
    const word = new Int32Array(keys.length);
    const bos = new Uint8Array(keys.length);
    const parentBos = startsWithBos[k - 2]!;
    for (let i = 0; i < keys.length; i++) {
      const p = Math.floor(keys[i]! / V);
      parent[i] = p;
      word[i] = keys[i]! - p * V;
      bos[i] = parentBos[p]!;
    }
    parents.push(parent);
    words.push(word);
    startsWithBos.push(bos);
  }
  return { parents, words, startsWithBos };
}
