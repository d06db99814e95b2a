/** lmforge/train: optimiser, schedule, data pipeline, checkpoints and the training loop. */
export { type LrSchedule, learningRate, validateSchedule } from './schedule.js';
export { AdamW, type AdamWOptions, type AdamWStateDict } from './optim/adamw.js';
export { clipScale, globalGradNorm, type ClipResult } from './optim/clip.js';
export {
  type TrainOptions,
  defaultTrainOptions,
  defaultWarmup,
  resolveTrainOptions,
  scheduleOf,
} from './options.js';
export { builtinCorpus, builtinCorpusId, synsetLines, wordnetDictPath } from './data/builtin-corpus.js';
export {
  type DataSource,
  describeSource,
  readSourceText,
  tokenizeWithCache,
  splitTokens,
  textHash,
  type TokenizedText,
  type Split,
} from './data/dataset.js';
export { tokenCacheKey, tokenCachePath, readTokenCache, writeTokenCache } from './data/token-cache.js';
export { BlockSampler, type Batch } from './data/block-sampler.js';
export { readTextFile, firstInvalidUtf8 } from './data/text-file.js';
export { type TokenizerChoice, parseTokenizerChoice, resolveTokenizer } from './data/tokenizer-choice.js';
export {
  type TrainerState,
  type DataState,
  type CheckpointContents,
  type CheckpointStage,
  type RunFolderKind,
  type SaveCheckpointOptions,
  type LoadedCheckpoint,
  saveCheckpoint,
  loadCheckpoint,
  readTrainerState,
  recoverRunFolder,
  inspectRunFolder,
  trainerStateFile,
  optimizerFile,
  logFile,
} from './checkpoint.js';
export {
  Trainer,
  type TrainEvent,
  type TrainSummary,
  type TrainerInit,
  type TrainerData,
  type TrainerSettings,
  type StopReason,
} from './trainer.js';
export { evaluateLoss } from './evaluate.js';
export type {
  Objective,
  ObjectiveLoss,
  ObjectiveSplit,
  BatchSource,
  ForwardSettings,
} from './objectives/objective.js';
export { CausalLmObjective, type CausalLmData } from './objectives/causal-lm.js';
export {
  MaskedLmObjective,
  maskSequences,
  maskedLmTokens,
  type MaskedLmBatch,
  type MaskedLmData,
  type MaskedLmTokens,
  type MaskingOptions,
} from './objectives/masked-lm.js';
