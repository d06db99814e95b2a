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
export {
  builtinCorpus,
  builtinCorpusId,
  synsetLines,
  splitGloss,
  wordnetDataLines,
  wordnetDictPath,
} from './data/builtin-corpus.js';
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
  readOptimizerState,
  recoverRunFolder,
  inspectRunFolder,
  trainerStateFile,
  optimizerFile,
  logFile,
} from './checkpoint.js';
export {
  Trainer,
  trainingBatchRng,
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
export { SftObjective, conversationLosses, type SftData } from './objectives/sft.js';
export {
  parseChatJsonl,
  readChatJsonl,
  tokenizeConversation,
  prepareChatExamples,
  collateSft,
  EpochBatches,
  type Conversation,
  type ChatExample,
  type ChatFormat,
  type SftBatch,
  type BatchDocument,
  type BatchLayout,
  type BatchPlanOptions,
} from './data/chat-data.js';
export {
  wordnetInstructions,
  isHeldOut,
  type InstructionSet,
  type InstructionOptions,
  type ClosedQuestion,
  type InstructionKind,
  type PartOfSpeech,
} from './data/wordnet-instructions.js';
export {
  answerAccuracy,
  normalizeAnswer,
  type AccuracyReport,
  type AccuracyCount,
  type AccuracyOptions,
} from './answer-accuracy.js';
