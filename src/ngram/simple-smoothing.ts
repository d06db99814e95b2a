/**
 * The two simple estimators, written in the backoff form of model.ts (so that ARPA files
 * carry them exactly):
 *
 * Add-k (Lidstone; add-one is k = 1), on the longest context the model sees: the last
 * N - 1 units, or fewer at a sentence start, where the context begins with <s>:
 *   p(w | h) = (c(hw) + k) / (c(h) + k (V - 1))     (c(h) = 0: the uniform 1 / (V - 1))
 * In backoff form the "full" contexts (order N - 1, and shorter ones starting with <s>) hold
 * the add-k values of their children and backoff weight k (V - 1) / (c(h) + k (V - 1)); every
 * other entry has probability 1 / (V - 1) and weight 1, so that backing off from a full
 * context lands on the uniform share exactly. V - 1: every unit but <s> is predicted.
 *
 * Stupid backoff (Brants et al., "Large language models in machine translation", 2007):
 *   S(w | h) = c(hw) / c(h) when c(hw) > 0, else alpha S(w | h[1:]);  S(w) = c(w) / tokens
 * These are scores, not probabilities (a context's scores do not sum to 1). In ARPA form
 * alpha is the backoff weight of every stored context; a context never seen is skipped at
 * no cost, as in every ARPA model (Brants et al. apply alpha there too).
 */
import { ConfigError } from '../util/errors.js';
import { ngramStructure, type NgramCounts } from './counts.js';
import { log10OrZero, logZero, type NgramLevel, type NgramModelInfo } from './model.js';
import { bosId } from './vocabulary.js';

/** c(h) of every context: the sum of its children's counts, per order (index k - 1 for contexts of order k). */
function contextTotals(counts: NgramCounts, parents: readonly (Int32Array | null)[]): Float64Array[] {
  const totals: Float64Array[] = [];
  for (let k = 1; k < counts.order; k++) {
    const total = new Float64Array(counts.counts[k - 1]!.length);
    const parent = parents[k]!;
    const childCounts = counts.counts[k]!;
    for (let i = 0; i < parent.length; i++) total[parent[i]!]! += childCounts[i]!;
    totals.push(total);
  }
  return totals;
}

/** Units counted at order 1 apart from <s>: the denominator of the unigrams. */
function unigramTotal(counts: NgramCounts): number {
  let total = 0;
  const unigrams = counts.counts[0]!;
  for (let w = 0; w < unigrams.length; w++) if (w !== bosId) total += unigrams[w]!;
  return total;
}

/**
 * Add-k levels (see the file header).
 * @example
 * const { levels, info } = addK(countNgrams(corpus, 3, V), 0.1);
 */
export function addK(counts: NgramCounts, k: number): { levels: NgramLevel[]; info: NgramModelInfo } {
  if (!(Number.isFinite(k) && k > 0)) {
    throw new ConfigError('add-k needs k > 0', { where: 'addK', expected: 'a finite number > 0', actual: k });
  }
  const { order: N, vocabSize: V } = counts;
  const { parents, startsWithBos } = ngramStructure(counts);
  const totals = contextTotals(counts, parents);
  const predicted = V - 1;
  const uniform = Math.log10(1 / predicted);
  const tokens = unigramTotal(counts);
  // A context is full when the model conditions on it whole: order N - 1, or shorter from <s>.
  const isFull = (order: number, index: number): boolean =>
    order === N - 1 || (order < N - 1 && startsWithBos[order - 1]![index] === 1);
  const levels: NgramLevel[] = [];
  for (let order = 1; order <= N; order++) {
    const raw = counts.counts[order - 1]!;
    const logProb = new Float32Array(raw.length);
    const logBackoff = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      if (order === 1) {
        logProb[i] =
          i === bosId ? logZero : N === 1 ? Math.log10((raw[i]! + k) / (tokens + k * predicted)) : uniform;
      } else {
        const parent = parents[order - 1]![i]!;
        logProb[i] = isFull(order - 1, parent)
          ? Math.log10((raw[i]! + k) / (totals[order - 2]![parent]! + k * predicted))
          : uniform;
      }
      if (order < N && isFull(order, i) && totals[order - 1]![i]! > 0) {
        logBackoff[i] = Math.log10((k * predicted) / (totals[order - 1]![i]! + k * predicted));
      }
    }
    levels.push({ keys: counts.keys[order - 1]!, logProb, logBackoff });
  }
  return { levels, info: { smoothing: { kind: 'add-k', k }, normalized: true } };
}

/**
 * Stupid-backoff levels (see the file header).
 * @example
 * const { levels, info } = stupidBackoff(countNgrams(corpus, 5, V), 0.4);
 */
export function stupidBackoff(
  counts: NgramCounts,
  alpha: number,
): { levels: NgramLevel[]; info: NgramModelInfo } {
  if (!(Number.isFinite(alpha) && alpha > 0 && alpha <= 1)) {
    throw new ConfigError('stupid backoff needs 0 < alpha <= 1', {
      where: 'stupidBackoff',
      expected: 'a number in (0, 1]',
      actual: alpha,
    });
  }
  const { order: N } = counts;
  const { parents } = ngramStructure(counts);
  const totals = contextTotals(counts, parents);
  const tokens = unigramTotal(counts);
  const logAlpha = Math.log10(alpha);
  const levels: NgramLevel[] = [];
  for (let order = 1; order <= N; order++) {
    const raw = counts.counts[order - 1]!;
    const logProb = new Float32Array(raw.length);
    const logBackoff = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      if (order === 1) logProb[i] = i === bosId ? logZero : log10OrZero(raw[i]! / tokens);
      else logProb[i] = log10OrZero(raw[i]! / totals[order - 2]![parents[order - 1]![i]!]!);
      if (order < N && totals[order - 1]![i]! > 0) logBackoff[i] = logAlpha;
    }
    levels.push({ keys: counts.keys[order - 1]!, logProb, logBackoff });
  }
  return { levels, info: { smoothing: { kind: 'stupid-backoff', alpha }, normalized: false } };
}
