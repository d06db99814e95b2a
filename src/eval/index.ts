/**
 * lmforge/eval: translation metrics with sacreBLEU 2.x's exact definitions (BLEU with its
 * tokenizers and smoothing, chrF and chrF++). Pure functions over strings: no tensors, no
 * models; src/eval depends on src/util only.
 */
export { type BleuTokenizer, bleuTokenizers, tokenizeForBleu } from './bleu-tokenizers.js';
export {
  type BleuSmoothing,
  type BleuOptions,
  type BleuStatistics,
  type BleuScore,
  bleuSmoothingDefaults,
  corpusBleu,
  sentenceBleu,
  bleuStatistics,
  bleuFromStatistics,
  formatBleu,
  bleuSignature,
} from './bleu.js';
export { type ChrfOptions, type ChrfScore, corpusChrf, sentenceChrf, formatChrf } from './chrf.js';
