/**
 * BLEU (Papineni et al. 2002) exactly as sacreBLEU 2.x computes it (Post 2018,
 * sacrebleu/metrics/bleu.py), so that a score here is the score a paper reports:
 *
 *   per segment: lowercase (optional), tokenize (13a by default) the right-stripped line,
 *                count word n-grams of orders 1..N (N = 4); a hypothesis n-gram matches at
 *                most as often as it occurs in the reference where it occurs most (several
 *                references); the reference length is the one closest to the hypothesis
 *                length (the shorter on a tie)
 *   corpus:      sum the counts over segments, then
 *                p_n = 100 * correct_n / total_n (smoothed when correct_n = 0, below),
 *                BP  = 1 if sys_len >= ref_len else exp(1 - ref_len / sys_len),
 *                BLEU = BP * exp(mean over n of log p_n)
 *
 * Smoothing (Chen & Cherry 2014): 'exp' (the default, mteval-v13a's: the k-th order without
 * a match gets 100 / (2^k * total_n)), 'floor' (100 * value / total_n), 'add-k' (value added
 * to correct and total of orders >= 2) or 'none'. `effectiveOrder` averages only the orders
 * whose total is > 0 (sentence BLEU's default). A corpus without a single unigram match
 * scores 0, and log(0) is floored at -9999999999 as sacreBLEU does.
 *
 * References are sacreBLEU's layout: one stream per reference set, `references[k][i]` the
 * k-th reference of segment i; null leaves a segment with fewer references.
 */
import { ConfigError } from '../util/errors.js';
import { type BleuTokenizer, bleuTokenizers, tokenizeForBleu } from './bleu-tokenizers.js';
import { type Counts, countInto, formatFixed, pythonRstrip, pythonSplit } from './text.js';

export type BleuSmoothing =
  | { readonly kind: 'exp' }
  | { readonly kind: 'floor'; readonly value?: number }
  | { readonly kind: 'add-k'; readonly value?: number }
  | { readonly kind: 'none' };

/** sacreBLEU's defaults for the valued methods (Chen & Cherry 2014), used when `value` is absent. */
export const bleuSmoothingDefaults = { floor: 0.1, 'add-k': 1 } as const;

/** The smoothing with its value filled in. */
type ResolvedSmoothing =
  { readonly kind: 'exp' | 'none' } | { readonly kind: 'floor' | 'add-k'; readonly value: number };

export interface BleuOptions {
  /** Default '13a'. */
  readonly tokenize?: BleuTokenizer;
  /** Lowercase hypotheses and references first. Default false. */
  readonly lowercase?: boolean;
  /** Default { kind: 'exp' }. */
  readonly smoothing?: BleuSmoothing;
  /** The highest n-gram order N. Default 4. */
  readonly maxNgramOrder?: number;
  /** Average only the orders with n-grams. Default false (true in sentenceBleu). */
  readonly effectiveOrder?: boolean;
}

/** The sufficient statistics of BLEU: lengths and per-order counts (summed over a corpus). */
export interface BleuStatistics {
  readonly sysLen: number;
  readonly refLen: number;
  /** Matched n-grams of order n + 1 at index n. */
  readonly correct: readonly number[];
  /** Hypothesis n-grams of order n + 1 at index n. */
  readonly total: readonly number[];
}

export interface BleuScore {
  /** 0..100. */
  readonly score: number;
  /** Matched n-grams per order (with add-k: after the smoothing value was added, as sacreBLEU reports). */
  readonly counts: readonly number[];
  readonly totals: readonly number[];
  /** 0..100 per order. */
  readonly precisions: readonly number[];
  /** The brevity penalty. */
  readonly bp: number;
  readonly sysLen: number;
  readonly refLen: number;
  /** sysLen / refLen (0 when refLen is 0). */
  readonly ratio: number;
}

interface ResolvedBleuOptions {
  readonly tokenize: BleuTokenizer;
  readonly lowercase: boolean;
  readonly smoothing: ResolvedSmoothing;
  readonly maxNgramOrder: number;
  readonly effectiveOrder: boolean;
}

function resolveSmoothing(smoothing: BleuSmoothing, problems: string[]): ResolvedSmoothing {
  switch (smoothing.kind) {
    case 'exp':
    case 'none':
      return { kind: smoothing.kind };
    case 'floor':
    case 'add-k': {
      const value = smoothing.value ?? bleuSmoothingDefaults[smoothing.kind];
      if (!(Number.isFinite(value) && value >= 0)) {
        problems.push(`smoothing value must be a finite number >= 0 (got ${value})`);
      }
      return { kind: smoothing.kind, value };
    }
    default:
      problems.push(
        `smoothing kind must be exp, floor, add-k or none (got ${String((smoothing as BleuSmoothing).kind)})`,
      );
      return { kind: 'none' };
  }
}

function resolveOptions(options: BleuOptions, effectiveOrderDefault: boolean): ResolvedBleuOptions {
  const problems: string[] = [];
  const resolved: ResolvedBleuOptions = {
    tokenize: options.tokenize ?? '13a',
    lowercase: options.lowercase ?? false,
    smoothing: resolveSmoothing(options.smoothing ?? { kind: 'exp' }, problems),
    maxNgramOrder: options.maxNgramOrder ?? 4,
    effectiveOrder: options.effectiveOrder ?? effectiveOrderDefault,
  };
  if (!bleuTokenizers.includes(resolved.tokenize)) {
    problems.push(`tokenize must be one of ${bleuTokenizers.join(', ')} (got ${String(resolved.tokenize)})`);
  }
  if (!(Number.isInteger(resolved.maxNgramOrder) && resolved.maxNgramOrder >= 1)) {
    problems.push(`maxNgramOrder must be an integer >= 1 (got ${resolved.maxNgramOrder})`);
  }
  if (problems.length > 0) {
    throw new ConfigError('invalid BLEU options', { where: 'BleuOptions', actual: problems.join('; ') });
  }
  return resolved;
}

/** What sacreBLEU's `_preprocess_segment` makes of a line: lowercased, right-stripped, tokenized. */
function preprocess(line: string, options: ResolvedBleuOptions): string {
  return tokenizeForBleu(pythonRstrip(options.lowercase ? line.toLowerCase() : line), options.tokenize);
}

/** Every word n-gram of orders 1..N (keys join the words with a space, which no word contains) and the word count. */
function wordNgrams(line: string, maxOrder: number): { counts: Counts; length: number } {
  const words = pythonSplit(line);
  const counts: Counts = new Map();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= words.length; i++) countInto(counts, words.slice(i, i + n).join(' '));
  }
  return { counts, length: words.length };
}

/** The reference length closest to hypLen, the shorter one on a tie. */
function closestReferenceLength(hypLen: number, refLens: readonly number[]): number {
  let closestDiff = -1;
  let closestLen = -1;
  for (const refLen of refLens) {
    const diff = Math.abs(hypLen - refLen);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = refLen;
    } else if (diff === closestDiff && refLen < closestLen) {
      closestLen = refLen;
    }
  }
  return closestLen;
}

/**
 * The references of each segment from sacreBLEU's stream layout, nulls dropped. Every
 * stream must have one entry per hypothesis and every segment at least one reference.
 */
export function referencesBySegment(
  hypotheses: readonly string[],
  references: readonly (readonly (string | null)[])[],
  where: string,
): string[][] {
  if (hypotheses.length === 0) {
    throw new ConfigError('no hypotheses to score', { where, expected: 'at least one hypothesis line' });
  }
  if (references.length === 0) {
    throw new ConfigError('no references to score against', {
      where,
      expected: 'at least one reference stream',
    });
  }
  references.forEach((stream, k) => {
    if (stream.length !== hypotheses.length) {
      throw new ConfigError('a reference stream and the hypotheses differ in length', {
        where: `${where}: references[${k}]`,
        expected: `${hypotheses.length} lines (one per hypothesis)`,
        actual: `${stream.length} lines`,
      });
    }
  });
  return hypotheses.map((_, i) => {
    const refs = references
      .map((stream) => stream[i])
      .filter((r): r is string => r !== null && r !== undefined);
    if (refs.length === 0) {
      throw new ConfigError('a segment has no reference (every stream is null there)', {
        where: `${where}: segment ${i}`,
      });
    }
    return refs;
  });
}

function segmentStatistics(
  hypothesis: string,
  refs: readonly string[],
  options: ResolvedBleuOptions,
): BleuStatistics {
  const N = options.maxNgramOrder;
  const refNgrams: Counts = new Map();
  const refLens: number[] = [];
  for (const ref of refs) {
    const { counts, length } = wordNgrams(preprocess(ref, options), N);
    refLens.push(length);
    for (const [ngram, count] of counts) refNgrams.set(ngram, Math.max(refNgrams.get(ngram) ?? 0, count));
  }
  const { counts: hypNgrams, length: hypLen } = wordNgrams(preprocess(hypothesis, options), N);
  const correct = new Array<number>(N).fill(0);
  const total = new Array<number>(N).fill(0);
  for (const [ngram, count] of hypNgrams) {
    const n = ngram.split(' ').length - 1;
    total[n]! += count;
    const inRef = refNgrams.get(ngram);
    if (inRef !== undefined) correct[n]! += Math.min(count, inRef);
  }
  return { sysLen: hypLen, refLen: closestReferenceLength(hypLen, refLens), correct, total };
}

/** Per-segment statistics (for significance tests, or to sum a corpus in parts). */
export function bleuStatistics(
  hypotheses: readonly string[],
  references: readonly (readonly (string | null)[])[],
  options: BleuOptions = {},
): BleuStatistics[] {
  const resolved = resolveOptions(options, false);
  const bySegment = referencesBySegment(hypotheses, references, 'bleuStatistics');
  return hypotheses.map((hyp, i) => segmentStatistics(hyp, bySegment[i]!, resolved));
}

function sumStatistics(stats: readonly BleuStatistics[], N: number): BleuStatistics {
  const correct = new Array<number>(N).fill(0);
  const total = new Array<number>(N).fill(0);
  let sysLen = 0;
  let refLen = 0;
  for (const s of stats) {
    sysLen += s.sysLen;
    refLen += s.refLen;
    for (let n = 0; n < N; n++) {
      correct[n]! += s.correct[n]!;
      total[n]! += s.total[n]!;
    }
  }
  return { sysLen, refLen, correct, total };
}

/** sacreBLEU's my_log: log, with log(0) floored to -9999999999. */
const flooredLog = (x: number): number => (x === 0 ? -9999999999 : Math.log(x));

/** BLEU from its sufficient statistics (sacreBLEU's BLEU.compute_bleu). */
export function bleuFromStatistics(stats: BleuStatistics, options: BleuOptions = {}): BleuScore {
  return computeBleu(stats, resolveOptions(options, false));
}

function computeBleu(stats: BleuStatistics, options: ResolvedBleuOptions): BleuScore {
  const { smoothing, effectiveOrder, maxNgramOrder: N } = options;
  if (stats.correct.length !== N || stats.total.length !== N) {
    throw new ConfigError('statistics do not have one count per n-gram order', {
      where: 'bleuFromStatistics',
      expected: `${N} counts (maxNgramOrder)`,
      actual: `${stats.correct.length} correct, ${stats.total.length} total`,
    });
  }
  const correct = [...stats.correct];
  const total = [...stats.total];
  const { sysLen, refLen } = stats;
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(N).fill(0);
  const result = (score: number): BleuScore => ({
    score,
    counts: correct,
    totals: total,
    precisions,
    bp,
    sysLen,
    refLen,
    ratio: refLen !== 0 ? sysLen / refLen : 0,
  });
  // No match at all: 0, whatever the smoothing (sacreBLEU #141).
  if (correct.every((c) => c === 0)) return result(0);
  let smoothMteval = 1;
  let order = N;
  for (let n = 1; n <= N; n++) {
    if (smoothing.kind === 'add-k' && n > 1) {
      correct[n - 1]! += smoothing.value;
      total[n - 1]! += smoothing.value;
    }
    if (total[n - 1] === 0) break;
    if (effectiveOrder) order = n;
    if (correct[n - 1] === 0) {
      if (smoothing.kind === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]!);
      } else if (smoothing.kind === 'floor') {
        precisions[n - 1] = (100 * smoothing.value) / total[n - 1]!;
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]!) / total[n - 1]!;
    }
  }
  let logSum = 0;
  for (let n = 0; n < order; n++) logSum += flooredLog(precisions[n]!);
  return result(bp * Math.exp(logSum / order));
}

/**
 * Corpus BLEU with sacreBLEU's defaults (13a, exp smoothing, N = 4, no effective order).
 *
 * @example
 * corpusBleu(['The dog bit the man.'], [['The dog bit the man.'], ['The dog had bit the man.']]).score; // 100
 */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (readonly (string | null)[])[],
  options: BleuOptions = {},
): BleuScore {
  const resolved = resolveOptions(options, false);
  const bySegment = referencesBySegment(hypotheses, references, 'corpusBleu');
  const stats = hypotheses.map((hyp, i) => segmentStatistics(hyp, bySegment[i]!, resolved));
  return computeBleu(sumStatistics(stats, resolved.maxNgramOrder), resolved);
}

/**
 * BLEU of one sentence against its references, as sacreBLEU's `sentence_bleu` (effective
 * order on by default; exp smoothing).
 *
 * @example
 * sentenceBleu('this is a test', ['this is a test']).score; // 100
 */
export function sentenceBleu(
  hypothesis: string,
  references: readonly string[],
  options: BleuOptions = {},
): BleuScore {
  const resolved = resolveOptions(options, true);
  const bySegment = referencesBySegment(
    [hypothesis],
    references.map((r) => [r]),
    'sentenceBleu',
  );
  return computeBleu(segmentStatistics(hypothesis, bySegment[0]!, resolved), resolved);
}

/**
 * sacreBLEU's one-line report:
 * `BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)`.
 */
export function formatBleu(score: BleuScore): string {
  const precisions = score.precisions.map((p) => formatFixed(p, 1)).join('/');
  return (
    `BLEU = ${formatFixed(score.score, 2)} ${precisions} (BP = ${formatFixed(score.bp, 3)} ` +
    `ratio = ${formatFixed(score.ratio, 3)} hyp_len = ${score.sysLen} ref_len = ${score.refLen})`
  );
}

/**
 * sacreBLEU's signature fields for these options (without its `version`: this is not
 * sacreBLEU), e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp`; `references` is the
 * number of references per segment, or 'var' when it varies.
 */
export function bleuSignature(
  options: BleuOptions,
  references: number | 'var',
  effectiveOrderDefault = false,
): string {
  const r = resolveOptions(options, effectiveOrderDefault);
  const smooth =
    r.smoothing.kind === 'floor' || r.smoothing.kind === 'add-k'
      ? `${r.smoothing.kind}[${formatFixed(r.smoothing.value, 2)}]`
      : r.smoothing.kind;
  return `nrefs:${references}|case:${r.lowercase ? 'lc' : 'mixed'}|eff:${r.effectiveOrder ? 'yes' : 'no'}|tok:${r.tokenize}|smooth:${smooth}`;
}
