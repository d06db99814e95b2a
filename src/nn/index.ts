/** lmforge/nn: Module and the layers the model families are built from. */
export {
  Module,
  ModuleList,
  ModuleDict,
  type StateDict,
  type LoadStateDictOptions,
  type LoadReport,
  type BufferOptions,
} from './module.js';
export { type Init, type InitOptions, type LayerInitOptions } from './init.js';
export { Linear, type LinearLayout, type LinearOptions, type Projection } from './layers/linear.js';
export { QuantizedLinear } from './layers/quantized-linear.js';
export { Embedding, type EmbeddingOptions } from './layers/embedding.js';
export { LayerNorm } from './layers/layer-norm.js';
export { RMSNorm } from './layers/rms-norm.js';
export {
  type PositionalEncoding,
  type RopeScaling,
  noRopeScaling,
  ropeInverseFrequencies,
  type SinusoidLayout,
  RotaryEmbedding,
  sinusoidalTable,
  positionRows,
} from './layers/positional.js';
export {
  SelfAttention,
  /** The name before mask kinds: SelfAttention with its default causal mask. */
  SelfAttention as CausalSelfAttention,
  type AttentionOptions,
  type AttentionProjections,
  type QkNorm,
  type AttentionContext,
  type AttentionResult,
} from './layers/attention.js';
export {
  CrossAttention,
  type CrossAttentionContext,
  type CrossAttentionNames,
  type CrossAttentionOptions,
} from './layers/cross-attention.js';
export {
  type AttentionMask,
  type AttentionDropout,
  causalMask,
  bidirectionalMask,
  isCausal,
  paddingKeys,
  slidingWindowMask,
  leftPaddingOf,
} from './layers/attention-mask.js';
export {
  Mlp,
  activate,
  type Activation,
  type MlpKind,
  type MlpNames,
  type MlpOptions,
} from './layers/mlp.js';
export { KVCache, type KVCacheShape } from './layers/kv-cache.js';
export {
  SparseMoe,
  RouterRecorder,
  routerAuxLoss,
  routerLossValues,
  type MoeRouting,
  type MoeNames,
  type SparseMoeOptions,
  type MoeContext,
  type RouterStats,
  type RouterRecord,
  type RouterLossCoefficients,
} from './layers/moe.js';
export {
  LoraLinear,
  LoraAdapter,
  attachLora,
  resolveLoraConfig,
  loraScale,
  loraSettingsAt,
  matchesLoraTarget,
  type LoraSettings,
  type LoraConfig,
  type RawLoraConfig,
  type LoraTargets,
  type LoraBranch,
  type LoraInit,
  type AttachOptions,
} from './adapters/lora.js';
