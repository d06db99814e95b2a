/** lmforge/train: optimiser, schedule, data pipeline, checkpoints and the training loop. */
export { type LrSchedule, learningRate, validateSchedule } from './schedule.js';
export { AdamW, type AdamWOptions, type AdamWStateDict } from './optim/adamw.js';
export { clipScale, globalGradNorm, type ClipResult } from './optim/clip.js';
export {
  type TrainOptions,
  type ScheduleName,
  type NonfinitePolicy,
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
  type TextSource,
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
export { readTextFile, textOfBytes, firstInvalidUtf8 } from './data/text-file.js';
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
  optimizerUpdates,
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
  type StepResult,
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
export { Seq2seqObjective, type Seq2seqData } from './objectives/seq2seq.js';
export { type PairSource, type PairSplits, describePairSource, readPairSource } from './data/pair-source.js';
export {
  type Seq2seqTokenizer,
  seq2seqSpecialTokens,
  seq2seqTokenizer,
  withEosPostProcessor,
} from './data/seq2seq-tokenizer.js';
export {
  type WordnetPairTaskName,
  type WordnetPairTaskOptions,
  type WordnetPairTask,
  wordnetPairTaskNames,
  wordnetPairTask,
} from './data/wordnet-pairs.js';
export {
  type SyntheticPairTaskName,
  type SyntheticPairTaskOptions,
  type SyntheticPairTask,
  syntheticPairTaskNames,
  syntheticPairTask,
} from './data/synthetic-pairs.js';
export {
  MaskedLmObjective,
  maskSequences,
  maskedLmTokens,
  type MaskedLmBatch,
  type MaskedLmData,
  type MaskedLmTokens,
  type MaskingOptions,
} from './objectives/masked-lm.js';
export {
  type Delimited,
  type DelimitedRecord,
  type DelimitedTable,
  parseDelimited,
} from './data/delimited-text.js';
export {
  type TextFormat,
  type LabeledText,
  type LabeledRow,
  type TextRow,
  type TextFileOptions,
  type LabeledTextOptions,
  type LabeledTextFile,
  type TextFile,
  detectTextFormat,
  parseLabeledText,
  parseUnlabeledText,
  readLabeledText,
  readUnlabeledText,
} from './data/labeled-text.js';
export {
  type LabelMap,
  type HfLabelFields,
  labelMapOf,
  labelMapFromLabels,
  encodeLabels,
  labelMapFromHfConfig,
  labelMapToHf,
} from './data/label-map.js';
export { type HoldOutOptions, type HoldOutSplit, holdOutSplit } from './data/holdout-split.js';
export {
  type TagScheme,
  type ParsedTag,
  type SchemeViolation,
  parseTag,
  parseTagOrThrow,
  firstSchemeViolation,
  iob1ToBio,
} from './data/tag-scheme.js';
export {
  type TaggedSentence,
  type ConllSentence,
  type ConllFile,
  type ConllOptions,
  parseConll,
  readConll,
  conllToBio,
  tagLabelMap,
  encodeTags,
  conllWhere,
} from './data/conll.js';
export { ignoreLabel, wordIdsFromCounts, alignWordLabels, firstTokenOfWords } from './data/word-labels.js';
export {
  type WordnetPos,
  type WordnetSynset,
  lexicographerFiles,
  parseSynsetLine,
  wordnetSynsets,
} from './data/wordnet-synsets.js';
export {
  type WordnetTaskName,
  type WordnetTaskOptions,
  type WordnetSource,
  type WordnetTextExample,
  type WordnetSentence,
  type WordnetClassificationTask,
  type WordnetTaggingTask,
  type SynsetSplit,
  headwordTags,
  isHeldOutWord,
  splitSynsets,
  wordnetClassificationTask,
  wordnetTaggingTask,
  splitWords,
  isInflectionOf,
  tagHeadwords,
} from './data/wordnet-tasks.js';
export {
  type ClassScores,
  type ClassificationReport,
  accuracy,
  classificationReport,
} from './metrics/classification.js';
export {
  type ChunkScores,
  type TypeScores,
  type ConllevalReport,
  type Chunk,
  chunksOf,
  conlleval,
} from './metrics/conlleval.js';
export { type TextClassifier, bagOfWords } from './baselines/text-classifier.js';
export { fitMajorityClass } from './baselines/majority-class.js';
export { type NaiveBayesOptions, fitNaiveBayes } from './baselines/naive-bayes.js';
export { type LogisticRegressionOptions, fitLogisticRegression } from './baselines/logistic-regression.js';
export { type Tagger, fitMostFrequentTag } from './baselines/most-frequent-tag.js';
export {
  type PairFormat,
  type TextPair,
  type PairTokenization,
  type EncodedPair,
  type PairBatching,
  type PairBatcherOptions,
  type PairBatch,
  type PairBatcherState,
  labelIgnoreIndex,
  pairFormatOf,
  parsePairs,
  readPairs,
  encodePairs,
  PairBatcher,
} from './data/pairs.js';
export {
  RouterWindow,
  routerLogRecord,
  readLastRouterRecord,
  type RouterSummary,
  type RouterLayerSummary,
  type RouterLogRecord,
} from './router-window.js';
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
  type AccuracyReport,
  type AccuracyCount,
  type AccuracyOptions,
} from './answer-accuracy.js';
export * from './harness/index.js';
export {
  DistillObjective,
  defaultDistillSettings,
  softenedKl,
  type DistillSettings,
} from './objectives/distill.js';
export {
  ExampleBatches,
  checkSequences,
  padRows,
  type PaddedRows,
  type SequenceExample,
} from './data/example-batches.js';
export {
  ClassifyObjective,
  classProbabilities,
  checkSequenceClassifier,
  predictedClasses,
  type ClassifyBatch,
  type ClassifyData,
  type ClassifyExample,
} from './objectives/classify.js';
export {
  TagObjective,
  checkTokenClassifier,
  encodeWords,
  tagExample,
  wordTagPredictions,
  type TagBatch,
  type TagData,
  type TagExample,
  type WordSequence,
} from './objectives/tag.js';
export {
  type PreferencePair,
  type RatedResponse,
  type PromptRecord,
  parsePromptJsonl,
  readPromptJsonl,
  type WordnetPreferenceOptions,
  type WordnetPreferenceSet,
  minRating,
  maxRating,
  parsePrompt,
  parsePreferenceRecord,
  parseRatingRecord,
  parsePreferenceJsonl,
  parseRatingJsonl,
  readPreferenceJsonl,
  readRatingJsonl,
  promptField,
  preferenceRecord,
  ratingRecord,
  promptKey,
  ratingsToPairs,
  wordnetPreferences,
  JsonlAppender,
  jsonlRecords,
} from './data/preferences.js';
export {
  tokenizeResponse,
  responseLogProbs,
  responseTokenLogProbs,
  responseTokens,
  scoreSequences,
  checkFits,
  type ResponseFormat,
  type ScoredSequence,
  type ScoreResult,
  type TokenLogProbs,
} from './align/logprobs.js';
export {
  DpoObjective,
  preferenceAccuracy,
  preferenceLoss,
  checkPreferenceLoss,
  tokenizePairs,
  type DpoData,
  type DpoBatch,
  type DpoMetrics,
  type PreferenceLoss,
  type PreferenceLossTerms,
  type TokenizedPair,
} from './objectives/dpo.js';
export {
  PolicyTrainer,
  advantagesOf,
  defaultPolicyOptions,
  grpoAdvantages,
  rewardFromFunction,
  rewardFromScorer,
  rlooAdvantages,
  sampleCompletions,
  type AdvantageKind,
  type PolicyFormat,
  type PolicyOptions,
  type PolicyPrompt,
  type PolicyStepReport,
  type Reward,
  type RewardFunction,
  type ResponseScorer,
  type SkippedSample,
} from './align/policy-opt.js';
export {
  RewardObjective,
  bradleyTerryLoss,
  collateRewardBatch,
  rewardScores,
  pairwiseAccuracy,
  type RewardExample,
  type RewardBatch,
  type RewardData,
} from './objectives/reward.js';
export {
  loadRewardModel,
  rewardModelOf,
  withRewardHead,
  isRewardModel,
  rewardLabels,
  rewardExample,
  rewardExampleIds,
  scoredConversation,
  type RewardModel,
} from './align/reward-model.js';
export { shuffleInPlace } from './data/shuffle.js';
