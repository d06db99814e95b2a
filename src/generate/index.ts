/** lmforge/generate: sampling, GenerationConfig, the streaming generate() generator, the next-token view, batched greedy/sampled decoding, beam search and speculative decoding (draft model or prompt lookup). */
export {
  type Sampling,
  validateSampling,
  argmax,
  applyRepetitionPenalty,
  softmaxWithTemperature,
  rankByProbability,
  filteredDistribution,
  selectToken,
} from './sampling.js';
export {
  generate,
  generateText,
  encodePrompt,
  type GenerateOptions,
  type GeneratedToken,
  type GenerateResult,
  type FinishReason,
} from './generate.js';
export { nextTokens, type NextTokenCandidate, type NextTokenTable } from './next-token.js';
export {
  type GenerationConfig,
  defaultGenerationConfig,
  resolveGenerationConfig,
  generationConfigFromHf,
  generationConfigToHf,
  eosIdFromTokenizerConfig,
  tokenizerConfigToken,
  eosIdsFor,
} from './generation-config.js';
export {
  type DecodeSource,
  type SearchOptions,
  type DecodeBatchOptions,
  type DecodedSequence,
  type SequenceFinish,
  decodeBatch,
} from './batch-decode.js';
export { type BeamSearchOptions, beamSearch } from './beam.js';
export { bannedNgramIds, bannedBadWordIds } from './logits-processors.js';
export {
  chatStopIds,
  chatPromptIds,
  fitHistory,
  reply,
  type FittedHistory,
  type ReplyOptions,
} from './chat.js';
export {
  type TranslationConfig,
  type TranslationDefaults,
  defaultTranslationConfig,
  resolveTranslationConfig,
  translationConfigFromHf,
  translationConfigToHf,
} from './translation-config.js';
export { type TranslateOptions, translateIds } from './translate.js';
export {
  speculativeGenerate,
  vocabularyDifference,
  type Draft,
  type SpeculativeOptions,
  type SpeculativeResult,
  type SpeculativeStats,
} from './speculative.js';
export { promptLookupDraft, resolvePromptLookup, type PromptLookupOptions } from './prompt-lookup.js';
export {
  BatchEngine,
  maxBatchRows,
  prefillChunk,
  type BatchEngineOptions,
  type SequenceRequest,
  type SequenceHandle,
  type SequenceResult,
  type EngineToken,
  type TokenConstraint,
  type SequenceFinish as EngineFinish,
} from './batch-engine.js';
export { PrefixCache, type PrefixCacheOptions, type PrefixCacheStats } from './prefix-cache.js';
export { compileJsonSchema, checkJsonPrefix, jsonConstraint, type JsonNode } from './constrained-json.js';
