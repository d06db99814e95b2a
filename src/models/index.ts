/**
 * lmforge/models: the model contract (model.ts), the family registry, the decoder-only
 * presets (GPT-2, Llama, Mistral, Qwen2, Qwen3) and model folders.
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
} from './model.js';
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
export { DecoderLM, type DecoderOptions, type ForwardOptions } from './decoder/model.js';
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
export { KVCache, type KVCacheShape } from '../nn/index.js';
