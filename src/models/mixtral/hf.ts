/**
 * MixtralConfig (config.json of MixtralForCausalLM) <-> DecoderConfig with MoeConfig, through
 * the Llama-style mapping (../decoder/hf-llama-style.ts): Llama's keys with MixtralConfig's
 * defaults, no biases, a sliding window in every layer, and a sparse MoE in every block.
 *
 * Read: Llama's fields (llama/hf.ts) except attention_bias and mlp_bias (MixtralAttention
 * and its experts have no biases), with MixtralConfig's defaults: rope_theta 1e6,
 * num_key_value_heads 8, rms_norm_eps 1e-5, max_position_embeddings 4096 * 32; toHf always
 * states them. sliding_window (null when absent, as MixtralConfig; each query sees its
 * sliding_window latest keys, as Mistral). Experts: num_local_experts (8),
 * num_experts_per_tok (2), router_jitter_noise (0), router_aux_loss_coef (0.001) and
 * output_router_logits: HF adds the auxiliary loss to the training loss only with it true
 * (its default is false), and so does lmforge: with it false the coefficients read as 0,
 * and toHf sets it whenever a coefficient is nonzero. What MixtralConfig cannot say is kept
 * in lmforge_* keys, written only when not HF's behaviour: lmforge_routing ('softmax-topk',
 * Switch routing), lmforge_capacity_factor, lmforge_shared_experts,
 * lmforge_router_z_loss_coef (and Llama's lmforge_mlp / lmforge_norm / lmforge_positional /
 * lmforge_dropout).
 * Ignored: as for Llama (use_cache, token ids, torch_dtype, ...).
 * Rejected: layer_types (MixtralForCausalLM attends with one rule in every layer) and
 * Llama's rejections (rope types, partial rotary, quantization_config, auto_map, ...).
 */
import type { DecoderConfig, FieldNames } from '../decoder/config.js';
import type { HfConfigJson } from '../decoder/hf-common.js';
import {
  llamaStyleFieldNames,
  llamaStyleFromHf,
  llamaStyleToHf,
  type LlamaStyleArchitecture,
} from '../decoder/hf-llama-style.js';

/** The config.json key of each field (for naming fields in errors). */
export const mixtralFieldNames: FieldNames = llamaStyleFieldNames;

export const mixtralArchitecture: LlamaStyleArchitecture = {
  modelType: 'mixtral',
  classes: { causalLm: 'MixtralForCausalLM', sequenceClassification: 'MixtralForSequenceClassification' },
  defaults: {
    ropeTheta: 1e6,
    rmsNormEps: 1e-5,
    kvHeads: 8,
    maxPositions: 4096 * 32,
    headDim: null,
    tieWordEmbeddings: false,
    slidingWindow: null,
    maxWindowLayers: 0,
  },
  attentionBias: 'none',
  mlpBias: false,
  qkNorm: false,
  window: 'every-layer',
  experts: true,
};

export function mixtralToHf(s: DecoderConfig): Record<string, unknown> {
  return llamaStyleToHf(mixtralArchitecture, s);
}

/** A resolved DecoderConfig from a Mixtral config.json object; every bad field named by its key. */
export function mixtralFromHf(c: HfConfigJson, where: string): DecoderConfig {
  return llamaStyleFromHf(mixtralArchitecture, c, where);
}
