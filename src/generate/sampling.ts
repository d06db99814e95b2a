/**
 * Next-token selection from a row of logits: pure functions, no tensors, no model.
 *
 *   greedy                  argmax (the lowest id among equal maxima)
 *   sample                  p = softmax(logits / temperature), then
 *                           top-k: keep the k most probable ids (ties broken by lower id),
 *                           top-p: keep the smallest most-probable prefix whose mass >= topP
 *                                  (nucleus sampling, Holtzman et al. 2019; the most probable
 *                                  id is always kept), renormalise, draw one id.
 *   repetition penalty      CTRL (Keskar et al. 2019), as Hugging Face applies it: each id
 *                           already in the context has its logit divided by the penalty when
 *                           positive and multiplied by it when negative.
 *
 * Order as in Hugging Face: penalty, temperature, top-k, top-p. Probabilities are computed
 * in float64. Options out of range are rejected, never clamped.
 */
import type { Rng } from '../tensor/index.js';
import { ConfigError } from '../util/errors.js';

export type Sampling =
  | { readonly kind: 'greedy' }
  | {
      readonly kind: 'sample';
      /** > 0; 1 leaves the distribution as the model gives it. */
      readonly temperature: number;
      /** Keep only the k most probable ids (integer >= 1); undefined keeps all. */
      readonly topK?: number;
      /** Nucleus mass in (0, 1]; undefined (or 1) keeps all. */
      readonly topP?: number;
    };

type Logits = ArrayLike<number>;

/** Checks every field; throws one ConfigError listing all problems. */
export function validateSampling(sampling: Sampling, repetitionPenalty = 1): void {
  const problems: string[] = [];
  if (!(Number.isFinite(repetitionPenalty) && repetitionPenalty > 0)) {
    problems.push(`repetitionPenalty must be a finite number > 0 (got ${repetitionPenalty})`);
  }
  switch (sampling.kind) {
    case 'greedy':
      break;
    case 'sample': {
      const { temperature, topK, topP } = sampling;
      if (!(Number.isFinite(temperature) && temperature > 0)) {
        problems.push(`temperature must be a finite number > 0 (got ${temperature}; use greedy for 0)`);
      }
      if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) {
        problems.push(`topK must be an integer >= 1 (got ${topK})`);
      }
      if (topP !== undefined && !(topP > 0 && topP <= 1))
        problems.push(`topP must be in (0, 1] (got ${topP})`);
      break;
    }
  }
  if (problems.length > 0) {
    throw new ConfigError('invalid sampling options', {
      where: `Sampling(${sampling.kind})`,
      actual: problems.join('; '),
    });
  }
}

/** The index of the largest logit (the lowest index on ties). NaN logits are an error. */
export function argmax(logits: Logits): number {
  const nan = (i: number): ConfigError =>
    new ConfigError('logits contain NaN', { where: 'sampling.argmax', actual: `NaN at index ${i}` });
  if (logits.length > 0 && Number.isNaN(logits[0]!)) throw nan(0);
  let best = 0;
  let bestValue = logits.length > 0 ? logits[0]! : 0;
  for (let i = 1; i < logits.length; i++) {
    const value = logits[i]!;
    // One comparison per id: false for a larger value (and for NaN, which fails every
    // comparison and is told apart only on this rare branch). Equal maxima keep the lower id.
    if (!(value <= bestValue)) {
      if (Number.isNaN(value)) throw nan(i);
      best = i;
      bestValue = value;
    }
  }
  return best;
}

/** A copy of `logits` with the CTRL repetition penalty applied once to each distinct id in `context`. */
export function applyRepetitionPenalty(
  logits: Logits,
  context: Iterable<number>,
  penalty: number,
): Float64Array {
  const out = Float64Array.from(logits as ArrayLike<number>);
  if (penalty === 1) return out;
  for (const id of new Set(context)) {
    if (id < 0 || id >= out.length) continue;
    const value = out[id]!;
    out[id] = value > 0 ? value / penalty : value * penalty;
  }
  return out;
}

/** softmax(logits / temperature) in float64, stabilised by subtracting the maximum. */
export function softmaxWithTemperature(logits: Logits, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i]! - max) / temperature);
    out[i] = e;
    total += e;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= total;
  return out;
}

/** Ids ordered by probability, highest first (lower id first among equals). */
export function rankByProbability(probs: ArrayLike<number>): number[] {
  const ids = Array.from({ length: probs.length }, (_, i) => i);
  return ids.sort((a, b) => probs[b]! - probs[a]! || a - b);
}

/**
 * The distribution a `sample` draws from: temperature, then top-k, then top-p, renormalised.
 * Filtered ids have probability exactly 0.
 */
export function filteredDistribution(
  logits: Logits,
  sampling: Extract<Sampling, { kind: 'sample' }>,
): Float64Array {
  const probs = softmaxWithTemperature(logits, sampling.temperature);
  const { topK, topP } = sampling;
  if ((topK === undefined || topK >= probs.length) && (topP === undefined || topP === 1)) return probs;
  const ranked = rankByProbability(probs);
  let keep = topK === undefined ? ranked.length : Math.min(topK, ranked.length);
  if (topP !== undefined && topP < 1) {
    // Top-p over the top-k survivors, renormalised first (as HF's warpers compose).
    let kept = 0;
    for (let r = 0; r < keep; r++) kept += probs[ranked[r]!]!;
    let cumulative = 0;
    let r = 0;
    while (r < keep) {
      cumulative += probs[ranked[r]!]! / kept;
      r++;
      if (cumulative >= topP) break;
    }
    keep = r;
  }
  const out = new Float64Array(probs.length);
  let total = 0;
  for (let r = 0; r < keep; r++) total += probs[ranked[r]!]!;
  for (let r = 0; r < keep; r++) out[ranked[r]!] = probs[ranked[r]!]! / total;
  return out;
}

/**
 * One next-token id for `logits` (one row of V), given the ids already in the context
 * (for the repetition penalty) and a seeded Rng (used only by `sample`).
 *
 * @example
 * const id = selectToken(logits, { kind: 'sample', temperature: 0.8, topK: 40 }, rng, context, 1.1);
 */
export function selectToken(
  logits: Logits,
  sampling: Sampling,
  rng: Rng,
  context: Iterable<number> = [],
  repetitionPenalty = 1,
): number {
  // No copy of the (V) row when there is no penalty: this runs once per generated token.
  const penalised =
    repetitionPenalty === 1 ? logits : applyRepetitionPenalty(logits, context, repetitionPenalty);
  switch (sampling.kind) {
    case 'greedy':
      return argmax(penalised);
    case 'sample':
      return rng.multinomial(filteredDistribution(penalised, sampling));
  }
}
