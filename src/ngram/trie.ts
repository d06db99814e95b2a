/**
 * The n-gram trie as sorted typed arrays (no JS object per n-gram): the k-grams of order
 * k >= 2 are one Float64Array of keys `parent * V + word`, sorted, where `parent` is the
 * index of the (k-1)-gram prefix in its own order's array and `word` the last unit's id.
 * Sorting by key groups the children of one prefix together, ordered by word, so a lookup
 * is one binary search and the children of a prefix are one contiguous range. Unigrams
 * need no keys: the unigram of word w has index w.
 *
 * Keys are exact integers below 2^53 (checked when a level is built: entries * V < 2^53).
 */
import { ConfigError } from '../util/errors.js';

/** The first index whose key is >= `key` (keys.length if none). */
export function lowerBound(keys: Float64Array, key: number, from = 0, to = keys.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the child `word` of prefix `parent` in `keys`, or -1. */
export function findChild(keys: Float64Array, parent: number, word: number, V: number): number {
  const key = parent * V + word;
  const at = lowerBound(keys, key);
  return at < keys.length && keys[at] === key ? at : -1;
}

/** The children of `parent`: indices [start, end) of `keys`. */
export function childRange(keys: Float64Array, parent: number, V: number): [number, number] {
  const start = lowerBound(keys, parent * V);
  return [start, lowerBound(keys, (parent + 1) * V, start)];
}

/** The prefix index and the last word of key `key`. */
export function splitKey(key: number, V: number): [parent: number, word: number] {
  const parent = Math.floor(key / V);
  return [parent, key - parent * V];
}

/** Refuses a level whose keys would not be exact doubles. */
export function checkKeySpace(parents: number, V: number, where: string): void {
  if (parents * V >= 2 ** 53) {
    throw new ConfigError('too many n-grams for the trie keys', {
      where,
      expected: 'prefixes * vocabulary < 2^53',
      actual: `${parents} prefixes * ${V} units`,
    });
  }
}

/**
 * Sorts `keys` (unique) and says where each went: `rank[i]` is the sorted position of
 * keys[i]. Two equal keys return the index of the second as `duplicate`.
 */
export function sortWithRanks(keys: Float64Array): {
  sorted: Float64Array;
  rank: Int32Array;
  duplicate: number;
} {
  const sorted = keys.slice().sort();
  const rank = new Int32Array(keys.length);
  let duplicate = -1;
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) {
      // The second occurrence in input order is the one to report.
      const key = sorted[i]!;
      let seen = 0;
      for (let j = 0; j < keys.length; j++) {
        if (keys[j] === key && ++seen === 2) {
          duplicate = j;
          break;
        }
      }
      return { sorted, rank, duplicate };
    }
  }
  for (let i = 0; i < keys.length; i++) rank[i] = lowerBound(sorted, keys[i]!);
  return { sorted, rank, duplicate };
}

/**
 * The words of entry `index` of level `order` (1-based), first to last, walking the prefixes:
 * `levels[k - 1]` are the keys of order k (unused for k = 1).
 */
export function entryWords(
  levels: readonly (Float64Array | null)[],
  order: number,
  index: number,
  V: number,
): number[] {
  const words = new Array<number>(order);
  let at = index;
  for (let k = order; k >= 2; k--) {
    const [parent, word] = splitKey(levels[k - 1]![at]!, V);
    words[k - 1] = word;
    at = parent;
  }
  words[0] = at;
  return words;
}
