/**
 * MistralConfig (config.json of MistralForCausalLM) <-> DecoderConfig, through the
 * Llama-style mapping (../decoder/hf-llama-style.ts): Llama's keys with MistralConfig's
 * defaults, no biases, and a sliding window in every layer.
 *
 * Read: Llama's fields (llama/hf.ts) except attention_bias and mlp_bias, which
 * MistralAttention and MistralMLP do not read (they have no biases), with MistralConfig's
 * defaults: num_key_value_heads 8, rms_norm_eps 1e-6, max_position_embeddings 4096 * 32,
 * rope_theta 10000; and sliding_window (4096 when absent; null for none): each query sees its
 * sliding_window latest keys, itself included, as transformers' masking_utils
 * (kv_idx > q_idx - sliding_window). With sliding_window >= max_position_embeddings the
 * window never removes a key (lmforge builds no mask then).
 * Ignored: as for Llama (use_cache, token ids, torch_dtype, ...); attention_bias / mlp_bias
 * and use_sliding_window / max_window_layers (MistralModel does not read them).
 * Rejected: layer_types (per-layer attention types belong to Ministral, which
 * MistralForCausalLM would ignore), and Llama's rejections (rope types, partial rotary,
 * quantization_config, auto_map, ...).
 */
import type { DecoderConfig } from '../decoder/config.js';
import type { HfConfigJson } from '../decoder/hf-common.js';
import { llamaStyleFromHf, llamaStyleToHf, type LlamaStyleArchitecture } from '../decoder/hf-llama-style.js';

export const mistralArchitecture: LlamaStyleArchitecture = {
  modelType: 'mistral',
  classes: { causalLm: 'MistralForCausalLM', sequenceClassification: 'MistralForSequenceClassification' },
  defaults: {
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    kvHeads: 8,
    maxPositions: 4096 * 32,
    headDim: null,
    tieWordEmbeddings: false,
    slidingWindow: 4096,
    maxWindowLayers: 0,
  },
  attentionBias: 'none',
  mlpBias: false,
  qkNorm: false,
  window: 'every-layer',
  experts: false,
};

export function mistralToHf(s: DecoderConfig): Record<string, unknown> {
  return llamaStyleToHf(mistralArchitecture, s);
}

/** A resolved DecoderConfig from a Mistral config.json object; every bad field named by its key. */
export function mistralFromHf(c: HfConfigJson, where: string): DecoderConfig {
  return llamaStyleFromHf(mistralArchitecture, c, where);
}
