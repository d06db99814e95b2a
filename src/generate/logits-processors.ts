/**
 * The logits processors of batched decoding (greedy, sampling, beam search), as Hugging
 * Face's LogitsProcessorList applies them, in its order:
 *
 *   repetition penalty   CTRL (sampling.ts's applyRepetitionPenalty)
 *   no-repeat n-gram     an id that would complete an n-gram already in the context is
 *                        banned (NoRepeatNGramLogitsProcessor)
 *   bad words            an id that would complete a bad-word sequence is banned; a
 *                        one-id sequence bans that id always (NoBadWordsLogitsProcessor)
 *   min new tokens       the EOS ids are banned until minNewTokens ids were generated
 *   forced EOS           the last generated position can only be EOS: every other id is
 *                        banned and forcedEosTokenId's value set to 0 (ForcedEOSTokenLogitsProcessor)
 *
 * A ban sets the value to -Infinity. Greedy and sampling process the model's logits; beam
 * search processes log_softmax(logits), as HF does. The context is what the model saw for
 * the row: the prompt (without padding) or the decoder start id, then the generated ids.
 * Pure functions over one row; no tensors.
 */
import { applyRepetitionPenalty } from './sampling.js';

export interface ProcessorOptions {
  /** CTRL penalty > 0; 1 is none. */
  readonly repetitionPenalty: number;
  /** 0 is none. */
  readonly noRepeatNgramSize: number;
  readonly badWordsIds: readonly (readonly number[])[];
  /** EOS ids are banned while fewer ids than this were generated. */
  readonly minNewTokens: number;
  readonly eosTokenIds: readonly number[];
  /** Forced at the last position (maxNewTokens - 1 generated so far); null for none. */
  readonly forcedEosTokenId: number | null;
  readonly maxNewTokens: number;
}

/**
 * The ids that would repeat an n-gram of `context` (HF's _calc_banned_ngram_tokens): the
 * ids that followed an earlier occurrence of the context's last n - 1 ids.
 */
export function bannedNgramIds(context: readonly number[], n: number): number[] {
  if (n < 1 || context.length + 1 < n) return [];
  const banned: number[] = [];
  const prefixStart = context.length - (n - 1); // the n - 1 ids the next id would follow
  for (let start = 0; start + n <= context.length; start++) {
    let same = true;
    for (let i = 0; i < n - 1 && same; i++) same = context[start + i] === context[prefixStart + i];
    if (same) banned.push(context[start + n - 1]!);
  }
  return banned;
}

/** The ids that would complete a bad-word sequence after `context`. */
export function bannedBadWordIds(
  context: readonly number[],
  badWordsIds: readonly (readonly number[])[],
): number[] {
  const banned: number[] = [];
  for (const words of badWordsIds) {
    const prefix = words.length - 1;
    if (prefix > context.length) continue;
    let matches = true;
    for (let i = 0; i < prefix && matches; i++) matches = context[context.length - prefix + i] === words[i];
    if (matches) banned.push(words[prefix]!);
  }
  return banned;
}

/**
 * `row` (one row of V logits or log-probabilities) after every processor, as a new
 * Float64Array; `generated` is how many ids this row has generated so far.
 */
export function processRow(
  row: ArrayLike<number>,
  context: readonly number[],
  generated: number,
  options: ProcessorOptions,
): Float64Array {
  const out = applyRepetitionPenalty(row, context, options.repetitionPenalty);
  if (options.noRepeatNgramSize > 0) {
    for (const id of bannedNgramIds(context, options.noRepeatNgramSize)) out[id] = -Infinity;
  }
  if (options.badWordsIds.length > 0) {
    for (const id of bannedBadWordIds(context, options.badWordsIds)) out[id] = -Infinity;
  }
  if (generated < options.minNewTokens) for (const id of options.eosTokenIds) out[id] = -Infinity;
  if (options.forcedEosTokenId !== null && generated === options.maxNewTokens - 1) {
    out.fill(-Infinity);
    out[options.forcedEosTokenId] = 0;
  }
  return out;
}

/** log_softmax of one row in float64 (max-subtracted), into `out`. */
export function logSoftmaxRow(row: ArrayLike<number>, out: Float64Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let total = 0;
  for (let i = 0; i < row.length; i++) total += Math.exp(row[i]! - max);
  const logTotal = max + Math.log(total);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - logTotal;
  return out;
}
