/** lmforge/nn: Module and the layers the model families are built from. */
export { Module, ModuleList, type StateDict, type LoadStateDictOptions, type LoadReport } from './module.js';
export { Linear, type LinearLayout, type LinearOptions } from './layers/linear.js';
export { Embedding, type EmbeddingOptions } from './layers/embedding.js';
export { LayerNorm } from './layers/layer-norm.js';
export { RMSNorm } from './layers/rms-norm.js';
export {
  type PositionalEncoding,
  RotaryEmbedding,
  sinusoidalTable,
  positionRows,
} from './layers/positional.js';
export {
  CausalSelfAttention,
  type AttentionOptions,
  type AttentionProjections,
  type AttentionContext,
} from './layers/attention.js';
export {
  Mlp,
  activate,
  type Activation,
  type MlpKind,
  type MlpNames,
  type MlpOptions,
} from './layers/mlp.js';
export { KVCache, type KVCacheShape } from './layers/kv-cache.js';
