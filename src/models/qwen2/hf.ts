/**
 * Qwen2Config (config.json of Qwen2ForCausalLM: Qwen2, Qwen2.5) <-> DecoderConfig, through
 * the Llama-style mapping (../decoder/hf-llama-style.ts): Llama's keys with Qwen2Config's
 * defaults; Qwen2Attention always has q/k/v biases and none on o_proj, Qwen2MLP none.
 *
 * Read: Llama's fields (llama/hf.ts) except attention_bias and mlp_bias (the biases are
 * fixed by the modeling code), with Qwen2Config's defaults: num_key_value_heads 32,
 * rms_norm_eps 1e-6, max_position_embeddings 32768, rope_theta 10000, tie_word_embeddings
 * false (Qwen2.5's small models set it true); and the windows: with use_sliding_window true
 * (default false), the layers from max_window_layers on (default 28), or those layer_types
 * marks "sliding_attention", see each query's sliding_window (default 4096) latest keys.
 * Ignored: as for Llama; sliding_window and max_window_layers while use_sliding_window is
 * false (Qwen2Config then sets sliding_window to None), as Qwen2.5's config.json files have
 * them.
 * Rejected: "sliding_attention" layers without use_sliding_window or sliding_window
 * (transformers refuses them too), and Llama's rejections.
 */
import type { DecoderConfig } from '../decoder/config.js';
import type { HfConfigJson } from '../decoder/hf-common.js';
import { llamaStyleFromHf, llamaStyleToHf, type LlamaStyleArchitecture } from '../decoder/hf-llama-style.js';

export const qwen2Architecture: LlamaStyleArchitecture = {
  modelType: 'qwen2',
  classes: { causalLm: 'Qwen2ForCausalLM', sequenceClassification: 'Qwen2ForSequenceClassification' },
  defaults: {
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    kvHeads: 32,
    maxPositions: 32768,
    headDim: null,
    tieWordEmbeddings: false,
    slidingWindow: 4096,
    maxWindowLayers: 28,
  },
  attentionBias: 'qkv',
  mlpBias: false,
  qkNorm: false,
  window: 'qwen',
  experts: false,
};

export function qwen2ToHf(s: DecoderConfig): Record<string, unknown> {
  return llamaStyleToHf(qwen2Architecture, s);
}

/** A resolved DecoderConfig from a Qwen2 config.json object; every bad field named by its key. */
export function qwen2FromHf(c: HfConfigJson, where: string): DecoderConfig {
  return llamaStyleFromHf(qwen2Architecture, c, where);
}
