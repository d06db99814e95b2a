/**
 * LlamaConfig (config.json of LlamaForCausalLM: Llama 1, 2, 3, 3.1, 3.2) <-> DecoderConfig,
 * through the Llama-style mapping (../decoder/hf-llama-style.ts). The fields that size the
 * weights are required; the rest take LlamaConfig's defaults.
 *
 * Read: vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads (absent: multi-head), head_dim (absent or null: hidden_size /
 * num_attention_heads), max_position_embeddings (2048), hidden_act (silu), rms_norm_eps
 * (1e-6), rope_theta (10000), rope_scaling / rope_parameters (default, linear, llama3;
 * dynamic, which equals default within max_position_embeddings), attention_bias (q, k, v and
 * o together; false), mlp_bias (false), attention_dropout (training only), initializer_range
 * (random init only), tie_word_embeddings (false); for LlamaForSequenceClassification
 * (`architectures`) id2label / label2id / num_labels, problem_type and pad_token_id (the
 * last token that is not it is the one classified).
 * Ignored, because LlamaForCausalLM's forward does not depend on them: pretraining_tp (it
 * slices the same matrix products, equal up to rounding), use_cache, bos/eos/pad_token_id
 * (eos_token_id is read for generation when the folder has no generation_config.json; a
 * causal LM's pad_token_id is ignored),
 * torch_dtype / dtype (lmforge computes in float32 whatever the stored dtype), and every key
 * LlamaModel does not read (transformers_version, an `architectures` naming another head, ...).
 * Rejected: rope_scaling types other than those above (yarn, longrope, ...), a
 * partial_rotary_factor other than 1, and the fields no family supports
 * (quantization_config, auto_map, pruned_heads, add_cross_attention; decoder/hf-common.ts).
 */
import type { DecoderConfig, FieldNames } from '../decoder/config.js';
import type { HfConfigJson } from '../decoder/hf-common.js';
import {
  llamaStyleFieldNames,
  llamaStyleFromHf,
  llamaStyleToHf,
  type LlamaStyleArchitecture,
} from '../decoder/hf-llama-style.js';

/** The config.json key of each DecoderConfig field (for naming fields in errors). */
export const llamaFieldNames: FieldNames = llamaStyleFieldNames;

export const llamaArchitecture: LlamaStyleArchitecture = {
  modelType: 'llama',
  classes: { causalLm: 'LlamaForCausalLM', sequenceClassification: 'LlamaForSequenceClassification' },
  defaults: {
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    kvHeads: null,
    maxPositions: 2048,
    headDim: null,
    tieWordEmbeddings: false,
    slidingWindow: null,
    maxWindowLayers: 0,
  },
  attentionBias: 'field',
  mlpBias: 'field',
  qkNorm: false,
  window: 'none',
  experts: false,
};

export function llamaToHf(s: DecoderConfig): Record<string, unknown> {
  return llamaStyleToHf(llamaArchitecture, s);
}

/** A resolved DecoderConfig from a Llama config.json object; every bad field named by its key. */
export function llamaFromHf(c: HfConfigJson, where: string): DecoderConfig {
  return llamaStyleFromHf(llamaArchitecture, c, where);
}
