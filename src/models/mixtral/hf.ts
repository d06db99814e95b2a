/**
 * MixtralConfig (config.json of MixtralForCausalLM) <-> DecoderConfig with MoeConfig. The
 * attention, norm and positional keys are Llama's (../llama/hf.ts), but MixtralConfig's
 * defaults differ from LlamaConfig's (rope_theta 1e6, num_key_value_heads 8, rms_norm_eps
 * 1e-5, max_position_embeddings 4096 * 32), so toHf always states rope_theta,
 * num_key_value_heads and rms_norm_eps, and fromHf fills absent ones with Mixtral's values.
 *
 * Experts: num_local_experts, num_experts_per_tok, router_jitter_noise, router_aux_loss_coef.
 * HF adds the auxiliary loss to the training loss only with output_router_logits true (its
 * default is false), and so does lmforge: with it false the coefficients read as 0, and
 * toHf sets it whenever a coefficient is nonzero. What MixtralConfig cannot say is kept in
 * lmforge_* keys, written only when not HF's behaviour: lmforge_routing ('softmax-topk',
 * Switch routing), lmforge_capacity_factor, lmforge_shared_experts,
 * lmforge_router_z_loss_coef (and Llama's lmforge_mlp / lmforge_norm / lmforge_positional /
 * lmforge_dropout).
 */
import { resolveDecoderConfig, type DecoderConfig, type FieldNames } from '../decoder/config.js';
import { rejectUnsupported, requireFields, type HfConfigJson } from '../decoder/hf-common.js';
import { llamaFieldNames, llamaStyleRaw, llamaStyleRequiredFields, llamaStyleToHf } from '../llama/hf.js';

/** The config.json key of each field (for naming fields in errors). */
export const mixtralFieldNames: FieldNames = {
  ...llamaFieldNames,
  'moe.experts': 'num_local_experts',
  'moe.expertsPerToken': 'num_experts_per_tok',
  'moe.routing': 'lmforge_routing',
  'moe.auxLossCoef': 'router_aux_loss_coef',
  'moe.zLossCoef': 'lmforge_router_z_loss_coef',
  'moe.capacityFactor': 'lmforge_capacity_factor',
  'moe.sharedExperts': 'lmforge_shared_experts',
  'moe.jitter': 'router_jitter_noise',
};

/** MixtralConfig's defaults of the Llama-style fields. */
const mixtralHfDefaults = { ropeTheta: 1e6, rmsNormEps: 1e-5, kvHeads: 8, maxPositions: 4096 * 32 };

export function mixtralToHf(s: DecoderConfig): Record<string, unknown> {
  const moe = s.moe!;
  const { torch_dtype, ...fields } = llamaStyleToHf(s);
  const extras: Record<string, unknown> = {};
  if (moe.routing !== 'topk-softmax') extras['lmforge_routing'] = moe.routing;
  if (moe.capacityFactor !== null) extras['lmforge_capacity_factor'] = moe.capacityFactor;
  if (moe.sharedExperts > 0) extras['lmforge_shared_experts'] = moe.sharedExperts;
  if (moe.zLossCoef > 0) extras['lmforge_router_z_loss_coef'] = moe.zLossCoef;
  return {
    architectures: ['MixtralForCausalLM'],
    model_type: 'mixtral',
    ...fields,
    sliding_window: null,
    num_local_experts: moe.experts,
    num_experts_per_tok: moe.expertsPerToken,
    router_aux_loss_coef: moe.auxLossCoef,
    router_jitter_noise: moe.jitter,
    output_router_logits: moe.auxLossCoef > 0 || moe.zLossCoef > 0,
    torch_dtype,
    ...extras,
  };
}

/** A resolved DecoderConfig from a Mixtral config.json object; every bad field named by its key. */
export function mixtralFromHf(c: HfConfigJson, where: string): DecoderConfig {
  requireFields(c, llamaStyleRequiredFields(c), 'mixtral', where);
  const problems: string[] = [];
  const raw = llamaStyleRaw(c, mixtralHfDefaults, problems);
  const window = c['sliding_window'];
  const context = c['max_position_embeddings'] ?? mixtralHfDefaults.maxPositions;
  if (
    window !== undefined &&
    window !== null &&
    !(typeof window === 'number' && typeof context === 'number' && window >= context)
  ) {
    problems.push(`sliding_window: sliding-window attention is not supported, got ${JSON.stringify(window)}`);
  }
  // HF adds the router losses to the training loss only when it outputs the router logits.
  const losses = c['output_router_logits'] === true;
  const moe = {
    experts: c['num_local_experts'] ?? 8,
    expertsPerToken: c['num_experts_per_tok'] ?? 2,
    routing: c['lmforge_routing'] ?? 'topk-softmax',
    auxLossCoef: losses ? (c['router_aux_loss_coef'] ?? 0.001) : 0,
    zLossCoef: losses ? (c['lmforge_router_z_loss_coef'] ?? 0) : 0,
    capacityFactor: c['lmforge_capacity_factor'] ?? null,
    sharedExperts: c['lmforge_shared_experts'] ?? 0,
    jitter: c['router_jitter_noise'] ?? 0,
  };
  rejectUnsupported(problems, where);
  return resolveDecoderConfig({ arch: 'mixtral', ...raw, moe }, where, mixtralFieldNames);
}
