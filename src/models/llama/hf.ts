/**
 * LlamaConfig (config.json of LlamaForCausalLM) <-> DecoderConfig. snake_case lives only
 * in the HF mappings; lmforge_* keys hold what LlamaConfig cannot say
 * (decoder/hf-common.ts). The fields that size the weights are required; the rest take
 * HF's defaults. The Llama-style fields are shared with Mixtral (../mixtral/hf.ts), whose
 * config class has the same keys with other defaults.
 */
import { resolveDecoderConfig, type DecoderConfig, type FieldNames } from '../decoder/config.js';
import {
  activationOf,
  activationToHf,
  positionalOf,
  rejectUnsupported,
  requireFields,
  type HfConfigJson,
} from '../decoder/hf-common.js';

/** The config.json key of each DecoderConfig field (for naming fields in errors). */
export const llamaFieldNames: FieldNames = {
  vocabSize: 'vocab_size',
  nEmbd: 'hidden_size',
  intermediateSize: 'intermediate_size',
  nLayer: 'num_hidden_layers',
  nHead: 'num_attention_heads',
  nKvHead: 'num_key_value_heads',
  blockSize: 'max_position_embeddings',
  activation: 'hidden_act',
  normEps: 'rms_norm_eps',
  positional: 'lmforge_positional',
  ropeTheta: 'rope_theta',
  bias: 'attention_bias',
  initStd: 'initializer_range',
  tiedEmbeddings: 'tie_word_embeddings',
  norm: 'lmforge_norm',
  mlp: 'lmforge_mlp',
  dropout: 'attention_dropout',
};

/** HF's defaults of the Llama-style fields a config.json may leave out (LlamaConfig's; MixtralConfig's differ). */
export interface LlamaStyleDefaults {
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  /** num_key_value_heads when absent; null: num_attention_heads (multi-head attention). */
  readonly kvHeads: number | null;
  readonly maxPositions: number;
}

const llamaHfDefaults: LlamaStyleDefaults = {
  ropeTheta: 10000,
  rmsNormEps: 1e-6,
  kvHeads: null,
  maxPositions: 2048,
};

/** With learned positions the context length sizes a weight too. */
export function llamaStyleRequiredFields(c: HfConfigJson): string[] {
  const fields = [
    'vocab_size',
    'hidden_size',
    'intermediate_size',
    'num_hidden_layers',
    'num_attention_heads',
  ];
  if (c['lmforge_positional'] === 'learned') fields.push('max_position_embeddings');
  return fields;
}

/** The Llama-style keys of a config.json for `s`, and the lmforge_* extras it needs. */
export function llamaStyleToHf(s: DecoderConfig): Record<string, unknown> {
  const extras: Record<string, unknown> = {};
  if (s.positional.kind !== 'rope') extras['lmforge_positional'] = s.positional.kind;
  if (s.norm !== 'rmsNorm') extras['lmforge_norm'] = s.norm;
  if (s.mlp !== 'swiglu') extras['lmforge_mlp'] = s.mlp;
  // HF's Llama drops attention probabilities only (attention_dropout); lmforge's one rate
  // also drops embeddings and residual branches, which lmforge_dropout records.
  if (s.dropout !== 0) extras['lmforge_dropout'] = s.dropout;
  return {
    vocab_size: s.vocabSize,
    hidden_size: s.nEmbd,
    intermediate_size: s.intermediateSize,
    num_hidden_layers: s.nLayer,
    num_attention_heads: s.nHead,
    num_key_value_heads: s.nKvHead,
    max_position_embeddings: s.blockSize,
    hidden_act: activationToHf[s.activation],
    rms_norm_eps: s.normEps,
    rope_theta: s.positional.kind === 'rope' ? s.positional.theta : 10000,
    attention_dropout: s.dropout,
    initializer_range: s.initStd,
    tie_word_embeddings: s.tiedEmbeddings,
    torch_dtype: 'float32',
    ...extras,
  };
}

export function llamaToHf(s: DecoderConfig): Record<string, unknown> {
  const { torch_dtype, ...fields } = llamaStyleToHf(s);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    ...fields,
    attention_bias: s.bias,
    mlp_bias: s.bias,
    torch_dtype,
  };
}

/**
 * The raw DecoderConfig fields (all but arch) of a Llama-style config.json, absent fields
 * taking `defaults`; what lmforge cannot represent is pushed to `problems`.
 */
export function llamaStyleRaw(
  c: HfConfigJson,
  defaults: LlamaStyleDefaults,
  problems: string[],
): Record<string, unknown> {
  const attentionBias = c['attention_bias'] ?? false;
  const mlpBias = c['mlp_bias'] ?? attentionBias;
  if (attentionBias !== mlpBias) {
    problems.push(
      `mlp_bias: lmforge has one bias flag; expected ${JSON.stringify(attentionBias)} (attention_bias), got ${JSON.stringify(mlpBias)}`,
    );
  }
  if (
    c['lmforge_dropout'] !== undefined &&
    c['attention_dropout'] !== undefined &&
    c['attention_dropout'] !== c['lmforge_dropout']
  ) {
    problems.push(
      `attention_dropout: lmforge has one dropout rate; expected ${JSON.stringify(c['lmforge_dropout'])} (lmforge_dropout), got ${JSON.stringify(c['attention_dropout'])}`,
    );
  }
  if (c['rope_scaling'] !== undefined && c['rope_scaling'] !== null) {
    problems.push(`rope_scaling: not supported, got ${JSON.stringify(c['rope_scaling'])}`);
  }
  const heads = c['num_attention_heads'];
  if (
    c['head_dim'] !== undefined &&
    c['head_dim'] !== null &&
    typeof c['hidden_size'] === 'number' &&
    typeof heads === 'number' &&
    c['head_dim'] !== c['hidden_size'] / heads
  ) {
    problems.push(
      `head_dim: must equal hidden_size / num_attention_heads, got ${JSON.stringify(c['head_dim'])}`,
    );
  }
  return {
    vocabSize: c['vocab_size'],
    nEmbd: c['hidden_size'],
    intermediateSize: c['intermediate_size'],
    nLayer: c['num_hidden_layers'],
    nHead: heads,
    // num_key_value_heads None means multi-head attention (Llama's default).
    nKvHead: c['num_key_value_heads'] ?? defaults.kvHeads ?? heads,
    blockSize: c['max_position_embeddings'] ?? defaults.maxPositions,
    activation: activationOf(c, 'hidden_act', 'silu', problems),
    normEps: c['rms_norm_eps'] ?? defaults.rmsNormEps,
    positional: positionalOf(c, 'rope', c['rope_theta'] ?? defaults.ropeTheta),
    bias: attentionBias,
    initStd: c['initializer_range'] ?? 0.02,
    tiedEmbeddings: c['tie_word_embeddings'] ?? false,
    norm: c['lmforge_norm'] ?? 'rmsNorm',
    mlp: c['lmforge_mlp'] ?? 'swiglu',
    dropout: c['lmforge_dropout'] ?? c['attention_dropout'] ?? 0,
  };
}

/** A resolved DecoderConfig from a Llama config.json object; every bad field named by its key. */
export function llamaFromHf(c: HfConfigJson, where: string): DecoderConfig {
  requireFields(c, llamaStyleRequiredFields(c), 'llama', where);
  const problems: string[] = [];
  const raw = { arch: 'llama', ...llamaStyleRaw(c, llamaHfDefaults, problems) };
  rejectUnsupported(problems, where);
  return resolveDecoderConfig(raw, where, llamaFieldNames);
}
