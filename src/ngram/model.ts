/**
 * NgramModel: a backoff n-gram model in the form an ARPA file holds (arpa.ts): for every
 * stored k-gram a log10 probability and, when it is a context, a log10 backoff weight. The
 * probability of word w after context h is the one of the longest stored n-gram h'w (h' a
 * suffix of h), times the backoff weights of the longer contexts h'' that are stored but
 * lack h''w:
 *
 *   p(w | h) = p(hw)                   when hw is stored
 *            = bow(h) * p(w | h[1:])   otherwise (bow = 1 for a context that is not stored)
 *
 * Interpolated Kneser-Ney (kneser-ney.ts) is exactly this form with bow(h) = gamma(h);
 * add-k and stupid backoff (simple-smoothing.ts) are written in it too. Probabilities are
 * stored as float32 log10 values (as KenLM does) and summed in float64.
 *
 * The context of a sentence's first word is <s>; <s> itself is never predicted.
 *
 * Legend: V vocabulary size, N the order, L = N - 1 the longest context.
 */
import { ConfigError } from '../util/errors.js';
import { ngramIndex } from './counts.js';
import { childRange, findChild } from './trie.js';
import type { NgramUnitsSpec } from './units.js';
import { bosId, eosId, type NgramVocabulary } from './vocabulary.js';

/** How the probabilities were estimated (recorded in the ARPA header, see arpa.ts). */
export type Smoothing =
  | {
      readonly kind: 'kneser-ney';
      /** Discounts used where an order's count-of-counts give none (KenLM's --discount_fallback), or null. */
      readonly discountFallback: readonly [number, number, number] | null;
    }
  | { readonly kind: 'add-k'; readonly k: number }
  | { readonly kind: 'stupid-backoff'; readonly alpha: number };

/** One order's entries: keys as trie.ts lays them out (null for unigrams), and their values. */
export interface NgramLevel {
  readonly keys: Float64Array | null;
  /** log10 p of each entry (-99 for <s>, which is never predicted). */
  readonly logProb: Float32Array;
  /** log10 backoff weight of each entry as a context (0 when none). */
  readonly logBackoff: Float32Array;
}

/** What the model is over and how it was made; carried through ARPA files. */
export interface NgramModelInfo {
  /** Null for a model read from an ARPA file that does not say. */
  readonly smoothing: Smoothing | null;
  /** Whether every context's probabilities sum to 1 (false for stupid backoff's scores). */
  readonly normalized: boolean;
  /** What the units are (words, characters, a tokenizer's tokens); null when an ARPA file does not say. */
  readonly units?: NgramUnitsSpec | null;
  /** True when an ARPA file had no <unk> and it was added with log10 p = -100 (as KenLM does). */
  readonly unknownAdded?: boolean;
  /** Per order 1..N, the modified Kneser-Ney discounts D1, D2, D3+ (and whether they fell back). */
  readonly discounts?: ReadonlyArray<{
    readonly d: readonly [number, number, number];
    readonly fallback: boolean;
  }>;
}

/** log10 probability ARPA files give to what is never predicted (<s>) or impossible. */
export const logZero = -99;

/** log10 of a probability or weight as ARPA stores it: 0 is -99. */
export const log10OrZero = (p: number): number => (p > 0 ? Math.log10(p) : logZero);

/** A position in a sentence: the stored n-grams that end there, by length. */
export interface NgramState {
  /** `ends[len]`: index (in order len) of the n-gram of the last `len` units, or -1; len = 1..L. */
  readonly ends: Int32Array;
}

export class NgramModel {
  readonly order: number;
  readonly vocabulary: NgramVocabulary;
  readonly levels: readonly NgramLevel[];
  readonly info: NgramModelInfo;

  constructor(vocabulary: NgramVocabulary, levels: readonly NgramLevel[], info: NgramModelInfo) {
    if (levels.length < 1 || levels[0]!.logProb.length !== vocabulary.size) {
      throw new ConfigError('the unigram level must cover the vocabulary', {
        where: 'NgramModel',
        expected: `${vocabulary.size} unigrams`,
        actual: levels.length < 1 ? 'no levels' : `${levels[0]!.logProb.length}`,
      });
    }
    this.order = levels.length;
    this.vocabulary = vocabulary;
    this.levels = levels;
    this.info = info;
  }

  get vocabSize(): number {
    return this.vocabulary.size;
  }

  /** Stored n-grams of each order (1..N). */
  entryCounts(): number[] {
    return this.levels.map((level) => level.logProb.length);
  }

  /** Index of the child `word` of entry `parent` of order `order - 1`, in order `order`; -1 if not stored. */
  child(order: number, parent: number, word: number): number {
    if (order === 1) return word;
    return findChild(this.levels[order - 1]!.keys!, parent, word, this.vocabulary.size);
  }

  /** The state at a sentence start: the context is <s>. */
  startState(): NgramState {
    const ends = new Int32Array(this.order).fill(-1);
    if (this.order > 1) ends[1] = bosId;
    return { ends };
  }

  /**
   * log10 p(word | state) and the state after `word` (</s> leads to a new sentence's start).
   *
   * @example
   * let state = model.startState();
   * let total = 0;
   * for (const w of ids) ({ logProb: lp, state } = model.score(state, w), total += lp);
   */
  score(state: NgramState, word: number): { logProb: number; state: NgramState } {
    const next = new Int32Array(this.order);
    const logProb = this.scoreInto(state.ends, word, next);
    return { logProb, state: word === eosId ? this.startState() : { ends: next } };
  }

  /**
   * score() without allocation: log10 p(word | ends), and `next` filled with the n-grams
   * ending at `word` (a sentence start is the caller's to set after </s>).
   */
  scoreInto(ends: Int32Array, word: number, next: Int32Array): number {
    const L = this.order - 1;
    next.fill(-1);
    let logProb = 0;
    let found = false;
    // Longest context first: the first stored (context, word) gives the probability; each
    // longer stored context passed on the way adds its backoff weight. Every length is
    // looked up, for `next`.
    for (let len = L; len >= 0; len--) {
      const context = len === 0 ? 0 : ends[len]!;
      if (context < 0) continue;
      const entry = this.child(len + 1, context, word);
      if (len + 1 <= L) next[len + 1] = entry;
      if (found) continue;
      if (entry >= 0) {
        logProb += this.levels[len]!.logProb[entry]!;
        found = true;
      } else if (len > 0) {
        logProb += this.levels[len - 1]!.logBackoff[context]!;
      }
    }
    return logProb;
  }

  /**
   * The state whose context is `context` (the last units, oldest first; it may begin with
   * <s>): for each length, the stored n-gram of that many last units.
   * @example
   * model.distribution(model.stateFor([bosId, vocabulary.idOf('the')])); // p(. | <s> the)
   */
  stateFor(context: readonly number[]): NgramState {
    const ends = new Int32Array(this.order).fill(-1);
    const keys = this.levels.map((level) => level.keys);
    for (let len = 1; len < this.order && len <= context.length; len++) {
      ends[len] = ngramIndex(keys, context.slice(context.length - len), this.vocabulary.size);
    }
    return { ends };
  }

  /** The state after the units `ids` from a sentence start (no </s> among them). */
  stateAfter(ids: readonly number[]): NgramState {
    let state = this.startState();
    for (const id of ids) state = this.score(state, id).state;
    return state;
  }

  /**
   * p(w | state) for every id of the vocabulary, as probabilities (the backoff recursion
   * for all words at once: start from the unigrams, then for each stored context from the
   * shortest, scale by its backoff weight and overwrite its children). <s> gets 0.
   */
  distribution(state: NgramState): Float64Array {
    const V = this.vocabulary.size;
    const probs = new Float64Array(V);
    const unigrams = this.levels[0]!.logProb;
    for (let w = 0; w < V; w++) probs[w] = 10 ** unigrams[w]!;
    for (let len = 1; len < this.order; len++) {
      const context = state.ends[len]!;
      if (context < 0) continue;
      const bow = 10 ** this.levels[len - 1]!.logBackoff[context]!;
      if (bow !== 1) for (let w = 0; w < V; w++) probs[w]! *= bow;
      const level = this.levels[len]!;
      const [start, end] = childRange(level.keys!, context, V);
      for (let i = start; i < end; i++) probs[level.keys![i]! - context * V] = 10 ** level.logProb[i]!;
    }
    probs[bosId] = 0;
    return probs;
  }

  /** log10 p of `word` after the context units `context` (from a sentence start). */
  logProb(context: readonly number[], word: number): number {
    return this.score(this.stateAfter(context), word).logProb;
  }
}
