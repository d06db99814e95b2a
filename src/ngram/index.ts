/**
 * lmforge/ngram: n-gram language models over any units (words, characters, a tokenizer's
 * tokens): compact counts (sorted typed arrays), interpolated modified Kneser-Ney, add-k and
 * stupid backoff, ARPA files (KenLM/SRILM), scoring and generation.
 */
export { NgramVocabulary, unkWord, bosWord, eosWord, unkId, bosId, eosId } from './vocabulary.js';
export {
  type NgramCounts,
  type NgramStructure,
  countNgrams,
  maxNgramOrder,
  ngramStructure,
  ngramIndex,
  ngramCount,
} from './counts.js';
export {
  NgramModel,
  type NgramLevel,
  type NgramModelInfo,
  type NgramState,
  type Smoothing,
  logZero,
} from './model.js';
export {
  kneserNey,
  kneserNeyCounts,
  discountsFromCounts,
  kenlmDiscountFallback,
  type Discounts,
  type KneserNeyOptions,
} from './kneser-ney.js';
export { addK, stupidBackoff } from './simple-smoothing.js';
export {
  type NgramUnits,
  type NgramUnitsSpec,
  wordUnits,
  charUnits,
  tokenizerUnits,
  tokenizerHash,
  escapeUnit,
  unescapeUnit,
  textLines,
} from './units.js';
export { type NgramText, type NgramTrainOptions, trainNgram, ngramCorpus } from './train.js';
export { type NgramEvaluation, evaluateNgram } from './evaluate.js';
export {
  type NgramGenerateOptions,
  type NgramGeneration,
  generateNgram,
  mostProbableUnit,
} from './generate.js';
export { readArpa, writeArpa, formatFloat32 } from './arpa.js';
