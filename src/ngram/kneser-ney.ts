/**
 * Interpolated modified Kneser-Ney smoothing (Chen & Goodman, "An empirical study of
 * smoothing techniques for language modeling", 1998, section 3.5 and eq. 26), with KenLM's
 * (lmplz's) conventions, written as a backoff model (model.ts):
 *
 *   p_k(w | h) = max(a(hw) - D_k(a(hw)), 0) / sum_x a(hx)  +  gamma(h) p_{k-1}(w | h[1:])
 *   gamma(h)   = (D_k1 N1(h.) + D_k2 N2(h.) + D_k3+ N3+(h.)) / sum_x a(hx)
 *   p_1(w)     = max(a(w) - D_1(a(w)), 0) / sum_x a(x)  +  gamma() / (V - 1)
 *
 * - a: raw counts at the highest order N; below it the continuation count N1+(. g), the
 *   number of distinct units seen before g, except for n-grams that start with <s>
 *   (nothing can precede them), which keep their raw counts (as KenLM does).
 * - D_k(1), D_k(2), D_k(3+) per order from the count-of-counts n1..n4 of that order's
 *   adjusted counts a: Y = n1 / (n1 + 2 n2), D(j) = j - (j + 1) Y n_{j+1} / n_j.
 *   A D(j) outside [0, j] (or undefined, n_j = 0: small corpora, character models) is an
 *   error unless `discountFallback` is given (KenLM's --discount_fallback, default there
 *   0.5 1 1.5), which then replaces that order's three discounts.
 * - The lowest order is interpolated with the uniform distribution over the V - 1 units
 *   that can be predicted (every unit but <s>), so <unk> and any unit never seen get
 *   gamma() / (V - 1). (KenLM divides by its vocabulary size, which counts <s>.)
 * - An unseen context (sum a(hx) = 0) uses p_{k-1} alone: its backoff weight is 1.
 *
 * The backoff weight of context h is gamma(h) exactly: p(w | h) = gamma(h) p(w | h[1:]) for
 * every w not seen after h, so the ARPA form needs no renormalisation.
 */
import { ConfigError } from '../util/errors.js';
import { ngramStructure, type NgramCounts, type NgramStructure } from './counts.js';
import { log10OrZero, logZero, type NgramLevel, type NgramModelInfo } from './model.js';
import { findChild } from './trie.js';
import { bosId } from './vocabulary.js';

export interface KneserNeyOptions {
  /** D1, D2, D3+ for an order whose count-of-counts give no valid discounts; default none (an error). */
  readonly discountFallback?: readonly [number, number, number] | null;
}

/** KenLM's --discount_fallback values. */
export const kenlmDiscountFallback: readonly [number, number, number] = [0.5, 1, 1.5];

export interface Discounts {
  readonly d: readonly [number, number, number];
  /** True when the fallback replaced discounts the counts could not give. */
  readonly fallback: boolean;
  /** n1..n4: how many n-grams of the order have adjusted count 1, 2, 3, 4. */
  readonly countOfCounts: readonly [number, number, number, number];
}

/** The modified Kneser-Ney discounts of one order from its count-of-counts, or null when invalid. */
export function discountsFromCounts(
  n: readonly [number, number, number, number],
): [number, number, number] | null {
  const [n1, n2, n3, n4] = n;
  const y = n1 / (n1 + 2 * n2);
  const d: [number, number, number] = [1 - (2 * y * n2) / n1, 2 - (3 * y * n3) / n2, 3 - (4 * y * n4) / n3];
  return d.every((value, j) => Number.isFinite(value) && value >= 0 && value <= j + 1) ? d : null;
}

/**
 * The model levels of interpolated modified Kneser-Ney over `counts` (see the file header).
 *
 * @example
 * const counts = countNgrams(corpus, 3, vocabulary.size);
 * const { levels, info } = kneserNey(counts, { discountFallback: kenlmDiscountFallback });
 * const model = new NgramModel(vocabulary, levels, info);
 */
export function kneserNey(
  counts: NgramCounts,
  options: KneserNeyOptions = {},
): { levels: NgramLevel[]; info: NgramModelInfo; discounts: Discounts[] } {
  const { order: N, vocabSize: V } = counts;
  const fallback = options.discountFallback ?? null;
  const structure = ngramStructure(counts);
  const { parents } = structure;
  const suffixes = suffixIndices(counts, structure);
  const adjusted = adjustedCounts(counts, suffixes, structure.startsWithBos);
  const discounts = adjusted.map((a, index) => orderDiscounts(a, index + 1, fallback));

  const levels: NgramLevel[] = [];
  // Order 1: continuation counts, interpolated with the uniform distribution.
  const a1 = adjusted[0]!;
  const D1 = discounts[0]!.d;
  let total = 0;
  const groups = [0, 0, 0];
  for (let w = 0; w < V; w++) {
    if (w === bosId) continue;
    total += a1[w]!;
    if (a1[w]! > 0) groups[Math.min(a1[w]!, 3) - 1]!++;
  }
  const gammaRoot = (D1[0] * groups[0]! + D1[1] * groups[1]! + D1[2] * groups[2]!) / total;
  let previous = new Float64Array(V);
  for (let w = 0; w < V; w++) {
    if (w === bosId) continue;
    previous[w] = discounted(a1[w]!, D1) / total + gammaRoot / (V - 1);
  }
  const unigramLog = Float32Array.from(previous, log10OrZero);
  unigramLog[bosId] = logZero;
  levels.push({ keys: null, logProb: unigramLog, logBackoff: new Float32Array(V) });

  for (let k = 2; k <= N; k++) {
    const keys = counts.keys[k - 1]!;
    const a = adjusted[k - 1]!;
    const D = discounts[k - 1]!.d;
    const parent = parents[k - 1]!;
    const suffix = suffixes[k - 1]!;
    const probs = new Float64Array(keys.length);
    const contextBackoff = levels[k - 2]!.logBackoff;
    for (let start = 0; start < keys.length;) {
      // The children of one context are contiguous: [start, end).
      const context = parent[start]!;
      let end = start;
      let denominator = 0;
      const n = [0, 0, 0];
      while (end < keys.length && parent[end] === context) {
        denominator += a[end]!;
        n[Math.min(a[end]!, 3) - 1]!++;
        end++;
      }
      const gamma = (D[0] * n[0]! + D[1] * n[1]! + D[2] * n[2]!) / denominator;
      for (let i = start; i < end; i++) {
        probs[i] = discounted(a[i]!, D) / denominator + gamma * previous[suffix[i]!]!;
      }
      contextBackoff[context] = log10OrZero(gamma);
      start = end;
    }
    levels.push({
      keys,
      logProb: Float32Array.from(probs, log10OrZero),
      logBackoff: new Float32Array(keys.length),
    });
    previous = probs;
  }
  return {
    levels,
    info: {
      smoothing: { kind: 'kneser-ney', discountFallback: fallback },
      normalized: true,
      discounts: discounts.map(({ d, fallback: used }) => ({ d, fallback: used })),
    },
    discounts,
  };
}

/**
 * `suffixes[k - 1][i]`: index in order k - 1 of the suffix (w2 .. wk) of entry i of order k,
 * i.e. the child wk of the parent's suffix (null for k = 1).
 */
function suffixIndices(counts: NgramCounts, structure: NgramStructure): (Int32Array | null)[] {
  const { parents, words } = structure;
  const V = counts.vocabSize;
  const suffixes: (Int32Array | null)[] = [null];
  for (let k = 2; k <= counts.order; k++) {
    const parent = parents[k - 1]!;
    const word = words[k - 1]!;
    const suffix = new Int32Array(parent.length);
    for (let i = 0; i < parent.length; i++) {
      suffix[i] =
        k === 2 ? word[i]! : findChild(counts.keys[k - 2]!, suffixes[k - 2]![parent[i]!]!, word[i]!, V);
    }
    suffixes.push(suffix);
  }
  return suffixes;
}

/**
 * The counts Kneser-Ney discounts, per order (index k - 1), aligned with counts.counts: see
 * the file header.
 * @example
 * kneserNeyCounts(counts)[0][vocabulary.idOf('the')]; // how many distinct units precede "the"
 */
export function kneserNeyCounts(counts: NgramCounts): Uint32Array[] {
  const structure = ngramStructure(counts);
  return adjustedCounts(counts, suffixIndices(counts, structure), structure.startsWithBos);
}

/** max(a - D(a), 0) with D(1), D(2), D(3+). */
function discounted(a: number, D: readonly [number, number, number]): number {
  return a === 0 ? 0 : Math.max(a - D[Math.min(a, 3) - 1]!, 0);
}

/**
 * The counts Kneser-Ney discounts, per order: raw at the highest order and for n-grams that
 * start with <s>, else the number of distinct units before the n-gram (entries of the next
 * order whose suffix it is).
 */
function adjustedCounts(
  counts: NgramCounts,
  suffixes: readonly (Int32Array | null)[],
  startsWithBos: readonly Uint8Array[],
): Uint32Array[] {
  const N = counts.order;
  const adjusted: Uint32Array[] = [];
  for (let k = 1; k <= N; k++) {
    const raw = counts.counts[k - 1]!;
    if (k === N) {
      adjusted.push(raw);
      continue;
    }
    const continuation = new Uint32Array(raw.length);
    const suffix = suffixes[k]!; // entries of order k + 1 -> their suffix in order k
    for (let j = 0; j < suffix.length; j++) continuation[suffix[j]!]!++;
    const bos = startsWithBos[k - 1]!;
    for (let i = 0; i < raw.length; i++) if (bos[i] === 1) continuation[i] = raw[i]!;
    adjusted.push(continuation);
  }
  return adjusted;
}

/** One order's discounts from its adjusted counts (the unigram <s>, never predicted, left out). */
function orderDiscounts(
  a: Uint32Array,
  k: number,
  fallback: readonly [number, number, number] | null,
): Discounts {
  const n: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    if (k === 1 && i === bosId) continue;
    const c = a[i]!;
    if (c >= 1 && c <= 4) n[c - 1]++;
  }
  if (a.length === 0 || (k === 1 && a.length <= 1))
    return { d: [0, 0, 0], fallback: false, countOfCounts: n };
  const d = discountsFromCounts(n);
  if (d !== null) return { d, fallback: false, countOfCounts: n };
  if (fallback === null) {
    throw new ConfigError('the counts give no valid Kneser-Ney discounts for this order', {
      where: `kneser-ney: order ${k}`,
      expected: 'n1..n4 (n-grams seen 1..4 times, adjusted) giving 0 <= D(j) <= j',
      actual: `n1..n4 = ${n.join(', ')}`,
      hint: 'small corpora and character models often have none: pass a discount fallback (--discount-fallback, KenLM: 0.5 1 1.5)',
    });
  }
  return { d: [...fallback], fallback: true, countOfCounts: n };
}
