/**
 * Qwen3Config (config.json of Qwen3ForCausalLM) <-> DecoderConfig, through the Llama-style
 * mapping (../decoder/hf-llama-style.ts): Qwen2's keys, with an RMSNorm over each head of
 * q and k before RoPE (q_norm, k_norm, eps rms_norm_eps), attention_bias for all four
 * projections, and head_dim 128 when absent.
 *
 * Read: Qwen2's fields (qwen2/hf.ts) plus attention_bias (default false) and head_dim
 * (default 128, whatever hidden_size / num_attention_heads is), with Qwen3Config's defaults:
 * num_key_value_heads 32, rms_norm_eps 1e-6, max_position_embeddings 32768, rope_theta 10000.
 * Ignored: as for Qwen2 (use_sliding_window false leaves sliding_window and
 * max_window_layers unread); mlp_bias (Qwen3MLP has no biases).
 * Rejected: as for Qwen2.
 */
import type { DecoderConfig } from '../decoder/config.js';
import type { HfConfigJson } from '../decoder/hf-common.js';
import { llamaStyleFromHf, llamaStyleToHf, type LlamaStyleArchitecture } from '../decoder/hf-llama-style.js';

export const qwen3Architecture: LlamaStyleArchitecture = {
  modelType: 'qwen3',
  classes: { causalLm: 'Qwen3ForCausalLM', sequenceClassification: 'Qwen3ForSequenceClassification' },
  defaults: {
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    kvHeads: 32,
    maxPositions: 32768,
    headDim: 128,
    tieWordEmbeddings: false,
    slidingWindow: 4096,
    maxWindowLayers: 28,
  },
  attentionBias: 'field',
  mlpBias: false,
  qkNorm: true,
  window: 'qwen',
  experts: false,
};

export function qwen3ToHf(s: DecoderConfig): Record<string, unknown> {
  return llamaStyleToHf(qwen3Architecture, s);
}

/** A resolved DecoderConfig from a Qwen3 config.json object; every bad field named by its key. */
export function qwen3FromHf(c: HfConfigJson, where: string): DecoderConfig {
  return llamaStyleFromHf(qwen3Architecture, c, where);
}
