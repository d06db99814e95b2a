/**
 * lmforge/models: the model contract (model.ts), the family registry, the decoder-only
 * presets (GPT-2, Llama, Mistral, Qwen2, Qwen3, Mixtral), the BERT family, the heads, the
 * Marian encoder-decoder and model folders.
 */
export type {
  LanguageModel,
  LogitsOptions,
  ModelConfig,
  ModelKind,
  ModelInputs,
  OutputOptions,
  ModelOutputs,
  ModelCache,
  ModuleLike,
  ForwardMode,
  AttentionMaskInput,
  EncoderOutput,
  ModelHead,
  LogitsSelection,
  EncoderDecoderModel,
  ModeOptions,
} from './model.js';
export { isEncoderDecoder } from './model.js';
export type { ModelFamily, ModelInit, ArchitectureSummary } from './family.js';
export {
  type CreateModelOptions,
  type BuiltinFamilies,
  type AnyModelConfig,
  type AnyLanguageModel,
  registerFamily,
  familyOf,
  modelTypes,
  configFromHf,
  configToHf,
  createModel,
  modelSize,
} from './registry.js';
export { type ModelSize, memoryLimitBytes, checkSizeFits, sizeOfPlan } from './size.js';
export {
  type DecoderConfig,
  type DecoderArch,
  type AttentionBias,
  type SlidingWindow,
  decoderArchs,
  type NormKind,
  type RawDecoderConfig,
  type DecoderOverrides,
  type DecoderDefaults,
  resolveDecoderConfig,
  dimensionLimits,
  type FieldNames,
} from './decoder/config.js';
export { gpt2Preset, gpt2Family } from './gpt2/family.js';
export { llamaPreset, llamaFamily } from './llama/family.js';
export { mistralPreset, mistralFamily } from './mistral/family.js';
export { qwen2Preset, qwen2Family } from './qwen2/family.js';
export { qwen3Preset, qwen3Family } from './qwen3/family.js';
export {
  llamaStyleFromHf,
  llamaStyleToHf,
  type LlamaStyleArchitecture,
  type LlamaStyleDefaults,
} from './decoder/hf-llama-style.js';
export { mixtralPreset, mixtralFamily } from './mixtral/family.js';
export { type MoeConfig, moeDefaults } from './mixtral/config.js';
export { DecoderLM, type DecoderOptions, type ForwardOptions } from './decoder/model.js';
export {
  type MarianConfig,
  type MarianPositions,
  type MarianFieldNames,
  type RawMarianConfig,
  marianDefaults,
  marianNormEps,
  marianPreset,
  resolveMarianConfig,
} from './marian/config.js';
export { marianFromHf, marianToHf, marianFieldNames } from './marian/hf.js';
export { MarianMTModel, MarianStack, type MarianOptions } from './marian/model.js';
export { marianBlockSpec, marianNormSpec, type MarianSide } from './marian/block-spec.js';
export {
  marianFamily,
  marianParameterShapes,
  marianBufferShapes,
  marianCheckpointKeys,
} from './marian/family.js';
export { blockParameterShapes } from './blocks/block-shapes.js';
export { parameterShapes } from './decoder/shapes.js';
export { decoderBlockSpec } from './decoder/block-spec.js';
export {
  TransformerBlock,
  checkBlockSpec,
  makeNorm,
  weightInit,
  type BlockSpec,
  type BlockNames,
  type BlockContext,
  type BlockResult,
  type BuildInit,
  type CrossAttentionSpec,
  type CrossContext,
  type FeedForward,
  type FeedForwardSpec,
  type Norm,
  type NormPlacement,
  type NormSpec,
  type SelfAttentionRule,
  type SelfAttentionExtras,
} from './blocks/transformer-block.js';
export { BlockStack, type StackContext, type StackOutputs, type StackResult } from './blocks/block-stack.js';
export {
  parametersFromCheckpoint,
  checkpointFromParameters,
  parameterKeys,
  matchCheckpoint,
} from './checkpoint-match.js';
export {
  saveModelFolder,
  loadModelFolder,
  checkModelFolder,
  type SaveModelFolderOptions,
  type LoadModelFolderOptions,
  type CheckedModelFolder,
  type LoadedModelFolder,
  type WeightsSummary,
  configFileName,
  weightsFileName,
  weightsIndexFileName,
  tokenizerFileName,
  generationConfigFileName,
  tokenizerConfigFileName,
} from './checkpoint-folder.js';
export { resizeVocabulary } from './resize-vocabulary.js';
export { LoraModel, withLora } from './lora-model.js';
export {
  saveAdapterFolder,
  loadAdapterFolder,
  vocabularyParameters,
  type SaveAdapterOptions,
  type LoadedAdapter,
} from './adapter-folder.js';
export { KVCache, type KVCacheShape } from '../nn/index.js';
export {
  type BertConfig,
  type BertHead,
  type BertActivation,
  type RawBertConfig,
  type BertField,
  type BertFieldNames,
  resolveBertConfig,
  headHasLabels,
  headHasPooler,
} from './bert/config.js';
export { bertFamily, bertPreset, type BertOverrides } from './bert/family.js';
export { bertFromHf, bertToHf, bertArchitectures, bertFieldNames } from './bert/hf.js';
export { BertModel, BertBody, BertEmbeddings, type BertOptions, type BodyResult } from './bert/model.js';
export { bertBlockSpec } from './bert/block-spec.js';
export { bertParameterShapes, bertCheckpointKeys } from './bert/weights.js';
export {
  type ClassLabels,
  type ProblemType,
  defaultLabelNames,
  labelsFromHf,
  labelsToHf,
  maxLabels,
} from './heads/labels.js';
export { MaskedLmHead, type MaskedLmHeadOptions } from './heads/masked-lm-head.js';
export {
  ClassificationHead,
  type ClassificationHeadOptions,
  firstToken,
  tokensAt,
  lastTokenPositions,
  selectPositions,
} from './heads/classification-head.js';
export { callDropout, callAttentionDropout } from './blocks/forward-context.js';
export {
  loadGguf,
  loadGgufSource,
  loadGgufTokenizer,
  checkGguf,
  saveGguf,
  registerGgufMapping,
  ggufArchitectures,
  type LoadGgufOptions,
  type LoadedGguf,
  type CheckedGgufFile,
  type GgufSummary,
  type GgufFileType,
  type SaveGgufOptions,
  type SavedGguf,
} from './gguf-file.js';
export {
  ggufDims,
  planPaths,
  toGgufLayout,
  fromGgufLayout,
  type GgufMapping,
  type GgufTensorPlan,
  type GgufLayout,
} from './gguf-mapping.js';
export { llamaGguf } from './llama/gguf.js';
export { gpt2Gguf } from './gpt2/gguf.js';
export { qwen2Gguf } from './qwen2/gguf.js';
export { qwen3Gguf } from './qwen3/gguf.js';
export {
  type RnnConfig,
  type RnnCell,
  type RnnArch,
  type RawRnnConfig,
  resolveRnnConfig,
  rnnArchOf,
  gatesOf,
} from './rnn/config.js';
export { rnnFromHf, rnnToHf } from './rnn/hf.js';
export { RnnLM, RnnStack, RnnHead, type RnnOptions } from './rnn/model.js';
export { RnnState, type RnnStateShape } from './rnn/state.js';
export { lstmFamily, gruFamily, rnnPreset, rnnParameterShapes } from './rnn/family.js';
export {
  withClassifierHead,
  type ClassifierKind,
  type ClassifierHeadOptions,
  type ClassifierModel,
} from './heads/with-head.js';
export {
  padRows,
  sentenceEmbeddings,
  cosineSimilarity,
  type PaddedRows,
  type Pooling,
} from './heads/sentence-embedding.js';
