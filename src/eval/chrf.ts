/**
 * chrF (Popović 2015) and chrF++ (Popović 2017) exactly as sacreBLEU 2.x computes them
 * (sacrebleu/metrics/chrf.py):
 *
 *   per segment and order: character n-grams (n = 1..charOrder, whitespace removed unless
 *                `whitespace`) and, for chrF++, word n-grams (n = 1..wordOrder, punctuation
 *                split off word ends), counted as [hypothesis n-grams, reference n-grams,
 *                matches]; with several references, those of the reference whose segment
 *                chrF is highest
 *   corpus:      the counts summed over segments, then per order
 *                P = matches / hyp, R = matches / ref,
 *                F = (1 + beta^2) P R / (beta^2 P + R)
 *
 * sacreBLEU's default (epsSmoothing false, "effective order") averages P and R over the
 * orders where both sides have n-grams, then takes one F of the averages. With epsSmoothing
 * (chrF++.py, NLTK and Moses) the score is the mean of the per-order F, an empty side
 * counting as 1e-16. Defaults: charOrder 6, wordOrder 0 (2 is chrF++), beta 2.
 */
import { ConfigError } from '../util/errors.js';
import { referencesBySegment } from './bleu.js';
import { type Counts, countInto, formatFixed, pythonSplit, totalCount } from './text.js';

export interface ChrfOptions {
  /** Character n-gram orders 1..charOrder. Default 6. */
  readonly charOrder?: number;
  /** Word n-gram orders 1..wordOrder (2 makes chrF++). Default 0. */
  readonly wordOrder?: number;
  /** Weight of recall over precision. Default 2. */
  readonly beta?: number;
  /** Default false. */
  readonly lowercase?: boolean;
  /** Keep whitespace in character n-grams. Default false (removed). */
  readonly whitespace?: boolean;
  /** chrF++.py's epsilon smoothing instead of sacreBLEU's effective order. Default false. */
  readonly epsSmoothing?: boolean;
}

export interface ChrfScore {
  /** 0..100. */
  readonly score: number;
  /** sacreBLEU's name: chrF2, chrF2++ (one + per word order), chrF3, ... */
  readonly name: string;
  /** [hyp, ref, match] per order (character orders, then word orders), summed over the corpus. */
  readonly statistics: readonly number[];
}

type ResolvedChrfOptions = Required<ChrfOptions>;

function resolveOptions(options: ChrfOptions): ResolvedChrfOptions {
  const r: ResolvedChrfOptions = {
    charOrder: options.charOrder ?? 6,
    wordOrder: options.wordOrder ?? 0,
    beta: options.beta ?? 2,
    lowercase: options.lowercase ?? false,
    whitespace: options.whitespace ?? false,
    epsSmoothing: options.epsSmoothing ?? false,
  };
  const problems: string[] = [];
  if (!(Number.isInteger(r.charOrder) && r.charOrder >= 0)) {
    problems.push(`charOrder must be an integer >= 0 (got ${r.charOrder})`);
  }
  if (!(Number.isInteger(r.wordOrder) && r.wordOrder >= 0)) {
    problems.push(`wordOrder must be an integer >= 0 (got ${r.wordOrder})`);
  }
  if (r.charOrder + r.wordOrder < 1) problems.push('charOrder + wordOrder must be >= 1');
  if (!(Number.isFinite(r.beta) && r.beta > 0))
    problems.push(`beta must be a finite number > 0 (got ${r.beta})`);
  if (problems.length > 0) {
    throw new ConfigError('invalid chrF options', { where: 'ChrfOptions', actual: problems.join('; ') });
  }
  return r;
}

/** string.punctuation, which chrF++ splits off word ends. */
const punctuation = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/**
 * chrF++'s words: a word of two or more characters loses one punctuation character from
 * its end, or else from its start, as a word of its own ('(hi)' -> '(hi', ')' as sacreBLEU).
 */
function wordsOf(sentence: string): string[] {
  const out: string[] = [];
  for (const word of pythonSplit(sentence)) {
    const chars = Array.from(word);
    if (chars.length === 1) out.push(word);
    else if (punctuation.has(chars[chars.length - 1]!))
      out.push(chars.slice(0, -1).join(''), chars[chars.length - 1]!);
    else if (punctuation.has(chars[0]!)) out.push(chars[0]!, chars.slice(1).join(''));
    else out.push(word);
  }
  return out;
}

/** Counters for each order: characters 1..charOrder, then words 1..wordOrder. */
function ngramsOf(sentence: string, options: ResolvedChrfOptions): Counts[] {
  const line = options.whitespace ? sentence : pythonSplit(sentence).join('');
  const chars = Array.from(line); // code points, as Python indexes a str
  const all: Counts[] = [];
  for (let n = 1; n <= options.charOrder; n++) {
    const counts: Counts = new Map();
    for (let i = 0; i + n <= chars.length; i++) countInto(counts, chars.slice(i, i + n).join(''));
    all.push(counts);
  }
  if (options.wordOrder > 0) {
    const words = wordsOf(sentence);
    for (let n = 1; n <= options.wordOrder; n++) {
      const counts: Counts = new Map();
      for (let i = 0; i + n <= words.length; i++) countInto(counts, words.slice(i, i + n).join(' '));
      all.push(counts);
    }
  }
  return all;
}

/** [hyp, ref, match] of one order; hypothesis n-grams do not count when the reference has none. */
function matchStatistics(hyp: Counts, ref: Counts): [number, number, number] {
  let matches = 0;
  let hypCount = 0;
  for (const [ngram, count] of hyp) {
    hypCount += count;
    const inRef = ref.get(ngram);
    if (inRef !== undefined) matches += Math.min(count, inRef);
  }
  return [ref.size > 0 ? hypCount : 0, totalCount(ref), matches];
}

/** The chrF of flattened [hyp, ref, match] statistics, 0..100. */
function fScore(stats: readonly number[], options: ResolvedChrfOptions): number {
  const eps = 1e-16;
  const factor = options.beta ** 2;
  const orders = options.charOrder + options.wordOrder;
  let score = 0;
  let effectiveOrder = 0;
  let averagePrecision = 0;
  let averageRecall = 0;
  for (let i = 0; i < orders; i++) {
    const nHyp = stats[3 * i]!;
    const nRef = stats[3 * i + 1]!;
    const nMatch = stats[3 * i + 2]!;
    const precision = nHyp > 0 ? nMatch / nHyp : eps;
    const recall = nRef > 0 ? nMatch / nRef : eps;
    const denominator = factor * precision + recall;
    score += denominator > 0 ? ((1 + factor) * precision * recall) / denominator : eps;
    if (nHyp > 0 && nRef > 0) {
      averagePrecision += precision;
      averageRecall += recall;
      effectiveOrder++;
    }
  }
  if (options.epsSmoothing) return (100 * score) / orders;
  if (effectiveOrder === 0) return 0;
  averagePrecision /= effectiveOrder;
  averageRecall /= effectiveOrder;
  if (averagePrecision + averageRecall === 0) return 0;
  return (
    (100 * (1 + factor) * averagePrecision * averageRecall) / (factor * averagePrecision + averageRecall)
  );
}

function segmentStatistics(
  hypothesis: string,
  refs: readonly string[],
  options: ResolvedChrfOptions,
): number[] {
  const prepare = (s: string): string => (options.lowercase ? s.toLowerCase() : s);
  const hypNgrams = ngramsOf(prepare(hypothesis), options);
  let best: number[] = [];
  let bestF = -1;
  for (const ref of refs) {
    const refNgrams = ngramsOf(prepare(ref), options);
    const stats = hypNgrams.flatMap((h, i) => matchStatistics(h, refNgrams[i]!));
    const f = fScore(stats, options);
    if (f > bestF) {
      bestF = f;
      best = stats;
    }
  }
  return best;
}

function scoreOf(stats: readonly number[], options: ResolvedChrfOptions): ChrfScore {
  return {
    score: fScore(stats, options),
    name: `chrF${options.beta}${'+'.repeat(options.wordOrder)}`,
    statistics: stats,
  };
}

/**
 * Corpus chrF with sacreBLEU's defaults; references in sacreBLEU's stream layout
 * (`references[k][i]`, null for a missing one).
 *
 * @example
 * corpusChrf(hypotheses, [references]).score;                 // chrF2
 * corpusChrf(hypotheses, [references], { wordOrder: 2 }).score; // chrF2++
 */
export function corpusChrf(
  hypotheses: readonly string[],
  references: readonly (readonly (string | null)[])[],
  options: ChrfOptions = {},
): ChrfScore {
  const resolved = resolveOptions(options);
  const bySegment = referencesBySegment(hypotheses, references, 'corpusChrf');
  const orders = resolved.charOrder + resolved.wordOrder;
  const total = new Array<number>(3 * orders).fill(0);
  hypotheses.forEach((hyp, i) => {
    segmentStatistics(hyp, bySegment[i]!, resolved).forEach((v, j) => (total[j]! += v));
  });
  return scoreOf(total, resolved);
}

/** chrF of one sentence against its references (sacreBLEU's sentence_chrf). */
export function sentenceChrf(
  hypothesis: string,
  references: readonly string[],
  options: ChrfOptions = {},
): ChrfScore {
  const resolved = resolveOptions(options);
  const bySegment = referencesBySegment(
    [hypothesis],
    references.map((r) => [r]),
    'sentenceChrf',
  );
  return scoreOf(segmentStatistics(hypothesis, bySegment[0]!, resolved), resolved);
}

/** sacreBLEU's one-line report, e.g. `chrF2 = 59.73`. */
export function formatChrf(score: ChrfScore): string {
  return `${score.name} = ${formatFixed(score.score, 2)}`;
}
