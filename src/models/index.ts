/** lmforge/models: the decoder-only family (GPT-2, Llama presets), registry and model folders. */
export {
  type DecoderConfig,
  type DecoderArch,
  type NormKind,
  type RawDecoderConfig,
  type DecoderOverrides,
  resolveDecoderConfig,
  dimensionLimits,
  type FieldNames,
  gpt2Preset,
  llamaPreset,
} from './decoder/config.js';
export { DecoderLM, type DecoderOptions, type ForwardOptions } from './decoder/model.js';
export {
  parametersFromCheckpoint,
  checkpointFromParameters,
  parameterKeys,
  matchCheckpoint,
} from './decoder/weights.js';
export {
  parameterShapes,
  modelSize,
  checkModelFits,
  memoryLimitBytes,
  type ModelSize,
} from './decoder/shapes.js';
export {
  type ModelType,
  type CreateModelOptions,
  modelTypes,
  configFromHf,
  configToHf,
  createModel,
} from './registry.js';
export {
  saveModelFolder,
  loadModelFolder,
  checkModelFolder,
  type SaveModelFolderOptions,
  type LoadModelFolderOptions,
  type CheckedModelFolder,
  type LoadedModelFolder,
  configFileName,
  weightsFileName,
  tokenizerFileName,
  generationConfigFileName,
} from './checkpoint-folder.js';
export { KVCache, type KVCacheShape } from '../nn/index.js';
