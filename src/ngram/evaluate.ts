/**
 * Scoring text with an n-gram model, as KenLM's `query` and SRILM's `ngram -ppl` do: each
 * line is a sentence, every unit and one </s> per line is predicted (<s> is the first
 * context and is not), units outside the vocabulary are <unk> and counted as OOV.
 *
 * `perplexity` includes the OOVs' <unk> probabilities (KenLM's "Perplexity including OOVs");
 * `perplexityExcludingOov` leaves them and their count out (SRILM's default, and KenLM's
 * second figure). Bits per byte divide the same total by the UTF-8 bytes of the text with
 * one line break per line, so that models over different units compare.
 */
import { textLines, type NgramUnits } from './units.js';
import { eosId, unkId } from './vocabulary.js';
import type { NgramModel } from './model.js';
import type { NgramText } from './train.js';

export interface NgramEvaluation {
  /** Sum of log10 p over every predicted unit (</s> included, OOVs as <unk>). */
  readonly log10Prob: number;
  /** Predicted units: the units of every line plus one </s> per line. */
  readonly tokens: number;
  /** Units outside the vocabulary (scored as <unk>). */
  readonly oov: number;
  readonly sentences: number;
  /** 10^(-log10Prob / tokens). */
  readonly perplexity: number;
  /** Without the OOVs' probabilities and count. */
  readonly perplexityExcludingOov: number;
  /** UTF-8 bytes of the text, one line break per line. */
  readonly bytes: number;
  readonly bitsPerByte: number;
}

/**
 * @example
 * const result = evaluateNgram(model, wordUnits, [{ name: 'test.txt', text }]);
 * result.perplexity;
 */
export function evaluateNgram(
  model: NgramModel,
  units: NgramUnits,
  texts: readonly NgramText[],
): NgramEvaluation {
  const encoder = new TextEncoder();
  const start = model.startState().ends;
  let ends = start.slice();
  let next = new Int32Array(model.order);
  let log10Prob = 0;
  let oovLog10Prob = 0;
  let tokens = 0;
  let oov = 0;
  let sentences = 0;
  let bytes = 0;
  const scoreUnit = (id: number): number => {
    const logProb = model.scoreInto(ends, id, next);
    [ends, next] = [next, ends];
    return logProb;
  };
  for (const { text } of texts) {
    for (const line of textLines(text)) {
      for (const unit of units.split(line)) {
        const id = model.vocabulary.idOf(unit);
        const logProb = scoreUnit(id);
        log10Prob += logProb;
        if (id === unkId && unit !== '<unk>') {
          oov++;
          oovLog10Prob += logProb;
        }
        tokens++;
      }
      log10Prob += scoreUnit(eosId);
      tokens++;
      ends.set(start);
      sentences++;
      bytes += encoder.encode(line).length + 1;
    }
  }
  return {
    log10Prob,
    tokens,
    oov,
    sentences,
    perplexity: 10 ** (-log10Prob / tokens),
    perplexityExcludingOov: 10 ** (-(log10Prob - oovLog10Prob) / (tokens - oov)),
    bytes,
    bitsPerByte: (-log10Prob * Math.log2(10)) / bytes,
  };
}
