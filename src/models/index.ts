/** lmforge/models: the decoder-only family (GPT-2, Llama presets), registry and model folders. */
export {
  type DecoderConfig,
  type DecoderArch,
  type NormKind,
  type RawDecoderConfig,
  type DecoderOverrides,
  resolveDecoderConfig,
  gpt2Preset,
  llamaPreset,
} from './decoder/config.js';
export { DecoderLM, type DecoderOptions, type ForwardOptions } from './decoder/model.js';
export { parametersFromCheckpoint, checkpointFromParameters } from './decoder/weights.js';
export { type ModelType, modelTypes, configFromHf, configToHf, createModel } from './registry.js';
export {
  saveModelFolder,
  loadModelFolder,
  type SaveModelFolderOptions,
  type LoadedModelFolder,
  configFileName,
  weightsFileName,
  tokenizerFileName,
  generationConfigFileName,
} from './checkpoint-folder.js';
export { KVCache, type KVCacheShape } from '../nn/index.js';
