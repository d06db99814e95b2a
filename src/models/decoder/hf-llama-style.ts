/**
 * The config.json mapping shared by the Llama-style families (LlamaForCausalLM,
 * MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MixtralForCausalLM, and their
 * *ForSequenceClassification heads): they share every key (hidden_size,
 * num_key_value_heads, rms_norm_eps, rope_theta / rope_scaling, ...) and differ in their
 * defaults, in what their modeling code fixes rather than reads (Qwen2's q/k/v biases,
 * Qwen3's q/k norms), reads in its own way (sliding windows) or adds (Mixtral's experts).
 * Each family describes itself as a LlamaStyleArchitecture (llama/hf.ts, mistral/hf.ts,
 * qwen2/hf.ts, qwen3/hf.ts, mixtral/hf.ts, each with its list of fields read, ignored and
 * rejected); the code here maps every one of them both ways.
 *
 * What such a config cannot say (GELU MLP, LayerNorm, learned positions, a bias pattern or
 * q/k norm the architecture does not have, a window in some layers of a Mistral, Switch
 * routing or shared experts in a Mixtral) goes into lmforge_* keys, written only when needed, so that fromHf(toHf(c)) equals c and a config
 * made from an HF one is written back HF-clean.
 */
import { resolveDecoderConfig, type AttentionBias, type DecoderConfig, type FieldNames } from './config.js';
import type { MoeConfig } from '../mixtral/config.js';
import {
  activationOf,
  activationToHf,
  decoderHeadFromHf,
  decoderHeadToHf,
  positionalOf,
  rejectCommonUnsupported,
  rejectUnsupported,
  requireFields,
  ropeFromHf,
  ropeToHf,
  type DecoderClassNames,
  type HfConfigJson,
} from './hf-common.js';
import { jsonText } from '../../util/preview.js';

/** HF's defaults for the Llama-style fields a config.json may leave out (each config class has its own). */
export interface LlamaStyleDefaults {
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  /** num_key_value_heads when absent; null: num_attention_heads (multi-head attention). */
  readonly kvHeads: number | null;
  readonly maxPositions: number;
  /** head_dim when absent; null: hidden_size / num_attention_heads. */
  readonly headDim: number | null;
  readonly tieWordEmbeddings: boolean;
  /** sliding_window when absent (Mistral 4096, Qwen 4096); only read where the architecture has windows. */
  readonly slidingWindow: number | null;
  /** Qwen's max_window_layers when absent. */
  readonly maxWindowLayers: number;
}

/** One Llama-style architecture: its names, defaults, and what its modeling code reads or fixes. */
export interface LlamaStyleArchitecture {
  readonly modelType: 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'mixtral';
  /** `architectures[0]` of its config.json, per head (LlamaForCausalLM, LlamaForSequenceClassification). */
  readonly classes: DecoderClassNames;
  readonly defaults: LlamaStyleDefaults;
  /** 'field': attention_bias (every projection or none); else fixed by the modeling code. */
  readonly attentionBias: 'field' | AttentionBias;
  /** 'field': mlp_bias; else fixed. */
  readonly mlpBias: 'field' | boolean;
  /** The per-head q/k norms (Qwen3); fixed by the modeling code. */
  readonly qkNorm: boolean;
  /**
   * How its config says which layers slide: 'none' (Llama: no window), 'every-layer'
   * (Mistral: sliding_window, null for none), 'qwen' (use_sliding_window, sliding_window,
   * max_window_layers, layer_types).
   */
  readonly window: 'none' | 'every-layer' | 'qwen';
  /** A sparse MoE in every block (Mixtral: num_local_experts, num_experts_per_tok, router_*). */
  readonly experts: boolean;
}

/** The config.json key of each DecoderConfig field (for naming fields in errors). */
export const llamaStyleFieldNames: FieldNames = {
  head: 'architectures',
  labels: 'id2label',
  problemType: 'problem_type',
  padTokenId: 'pad_token_id',
  vocabSize: 'vocab_size',
  nEmbd: 'hidden_size',
  headSize: 'head_dim',
  intermediateSize: 'intermediate_size',
  nLayer: 'num_hidden_layers',
  nHead: 'num_attention_heads',
  nKvHead: 'num_key_value_heads',
  blockSize: 'max_position_embeddings',
  activation: 'hidden_act',
  normEps: 'rms_norm_eps',
  positional: 'lmforge_positional',
  ropeTheta: 'rope_theta',
  ropeScaling: 'rope_scaling',
  bias: 'lmforge_bias',
  attentionBias: 'attention_bias',
  mlpBias: 'mlp_bias',
  qkNorm: 'lmforge_qk_norm',
  slidingWindow: 'sliding_window',
  initStd: 'initializer_range',
  tiedEmbeddings: 'tie_word_embeddings',
  norm: 'lmforge_norm',
  mlp: 'lmforge_mlp',
  dropout: 'attention_dropout',
  'moe.experts': 'num_local_experts',
  'moe.expertsPerToken': 'num_experts_per_tok',
  'moe.routing': 'lmforge_routing',
  'moe.auxLossCoef': 'router_aux_loss_coef',
  'moe.zLossCoef': 'lmforge_router_z_loss_coef',
  'moe.capacityFactor': 'lmforge_capacity_factor',
  'moe.sharedExperts': 'lmforge_shared_experts',
  'moe.jitter': 'router_jitter_noise',
};

/** The lmforge_* keys this mapping writes and reads; any other lmforge_* key is an error. */
const lmforgeKeys = new Set([
  'lmforge_positional',
  'lmforge_norm',
  'lmforge_mlp',
  'lmforge_dropout',
  'lmforge_bias',
  'lmforge_attention_bias',
  'lmforge_mlp_bias',
  'lmforge_qk_norm',
  'lmforge_sliding_window',
]);

/** The lmforge_* keys of the expert settings MixtralConfig cannot say (experts architectures only). */
const lmforgeExpertKeys = new Set([
  'lmforge_routing',
  'lmforge_capacity_factor',
  'lmforge_shared_experts',
  'lmforge_router_z_loss_coef',
]);

/**
 * The raw `moe` setting of a Mixtral config.json (MixtralConfig's defaults for what is
 * absent). HF adds the auxiliary loss to the training loss only with output_router_logits
 * true (its default is false), and so does lmforge: with it false the coefficients read as
 * 0. Switch routing, capacity, shared experts and the z-loss are lmforge_* keys.
 */
function moeFromHf(c: HfConfigJson): Record<keyof MoeConfig, unknown> {
  const losses = c['output_router_logits'] === true;
  return {
    experts: c['num_local_experts'] ?? 8,
    expertsPerToken: c['num_experts_per_tok'] ?? 2,
    routing: c['lmforge_routing'] ?? 'topk-softmax',
    auxLossCoef: losses ? (c['router_aux_loss_coef'] ?? 0.001) : 0,
    zLossCoef: losses ? (c['lmforge_router_z_loss_coef'] ?? 0) : 0,
    capacityFactor: c['lmforge_capacity_factor'] ?? null,
    sharedExperts: c['lmforge_shared_experts'] ?? 0,
    jitter: c['router_jitter_noise'] ?? 0,
  };
}

/** MixtralConfig's expert keys for `moe` (output_router_logits set whenever a coefficient is nonzero), lmforge_* only where it differs from HF's behaviour. */
function moeToHf(moe: MoeConfig): Record<string, unknown> {
  return {
    num_local_experts: moe.experts,
    num_experts_per_tok: moe.expertsPerToken,
    router_aux_loss_coef: moe.auxLossCoef,
    router_jitter_noise: moe.jitter,
    output_router_logits: moe.auxLossCoef > 0 || moe.zLossCoef > 0,
    ...(moe.routing === 'topk-softmax' ? {} : { lmforge_routing: moe.routing }),
    ...(moe.capacityFactor === null ? {} : { lmforge_capacity_factor: moe.capacityFactor }),
    ...(moe.sharedExperts > 0 ? { lmforge_shared_experts: moe.sharedExperts } : {}),
    ...(moe.zLossCoef > 0 ? { lmforge_router_z_loss_coef: moe.zLossCoef } : {}),
  };
}

/** With learned positions the context length sizes a weight too. */
function requiredFields(c: HfConfigJson): string[] {
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

const isLayerCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The sliding window of a config.json as DecoderConfig's raw `slidingWindow` (null, or
 * { size, layers }); what the architecture cannot read is a problem.
 */
function windowFromHf(arch: LlamaStyleArchitecture, c: HfConfigJson, problems: string[]): unknown {
  const lmforge = c['lmforge_sliding_window'];
  if (lmforge !== undefined) return lmforge;
  const layerCount = c['num_hidden_layers'];
  const sizeOf = (): unknown =>
    c['sliding_window'] === undefined ? arch.defaults.slidingWindow : c['sliding_window'];
  switch (arch.window) {
    case 'none':
      // LlamaModel reads no window fields: a sliding_window here is another family's.
      return null;
    case 'every-layer': {
      if (c['layer_types'] !== undefined && c['layer_types'] !== null) {
        problems.push(
          `layer_types: ${arch.classes.causalLm} ignores it and attends with one rule in every layer; a config with per-layer attention types is a Ministral model, which lmforge does not support`,
        );
      }
      const size = sizeOf();
      return size === null ? null : { size };
    }
    case 'qwen': {
      const use = c['use_sliding_window'] ?? false;
      if (typeof use !== 'boolean') {
        problems.push(`use_sliding_window: expected true or false, got ${jsonText(use)}`);
        return null;
      }
      // HF: sliding_window only counts with use_sliding_window (Qwen2Config sets it to None otherwise).
      const size = use ? sizeOf() : null;
      const types = c['layer_types'];
      let sliding: number[];
      if (types !== undefined && types !== null) {
        const ok =
          Array.isArray(types) &&
          types.length === layerCount &&
          types.every((t) => t === 'full_attention' || t === 'sliding_attention');
        if (!ok) {
          problems.push(
            `layer_types: expected num_hidden_layers entries of "full_attention" | "sliding_attention", got ${jsonText(types)}`,
          );
          return null;
        }
        sliding = types.flatMap((t, i) => (t === 'sliding_attention' ? [i] : []));
      } else {
        const first = c['max_window_layers'] ?? arch.defaults.maxWindowLayers;
        if (!isLayerCount(first)) {
          problems.push(`max_window_layers: expected an integer >= 0, got ${jsonText(first)}`);
          return null;
        }
        const layers = isLayerCount(layerCount) ? layerCount : 0;
        sliding =
          size === null ? [] : Array.from({ length: Math.max(0, layers - first) }, (_, i) => first + i);
      }
      if (sliding.length === 0) return null;
      if (size === null) {
        problems.push(
          `layer_types: sliding_attention layers need use_sliding_window true and a sliding_window (transformers refuses this config too)`,
        );
        return null;
      }
      return { size, layers: sliding };
    }
  }
}

/** The window keys of `arch` for `s`, and the lmforge_sliding_window extra where the architecture cannot say it. */
function windowToHf(arch: LlamaStyleArchitecture, s: DecoderConfig): Record<string, unknown> {
  const window = s.slidingWindow;
  const every = window !== null && window.layers.length === s.nLayer;
  const extra =
    window === null ? {} : { lmforge_sliding_window: { size: window.size, layers: [...window.layers] } };
  switch (arch.window) {
    case 'none':
      return extra;
    case 'every-layer':
      return { sliding_window: every ? window.size : null, ...(window === null || every ? {} : extra) };
    case 'qwen': {
      if (window === null) {
        return { use_sliding_window: false, sliding_window: null, max_window_layers: s.nLayer };
      }
      // max_window_layers says "layers from m on" (transformers before layer_types); layer_types says any set.
      const first = window.layers[0]!;
      const tail =
        window.layers.every((layer, i) => layer === first + i) && window.layers.at(-1) === s.nLayer - 1;
      return {
        use_sliding_window: true,
        sliding_window: window.size,
        max_window_layers: first,
        ...(tail
          ? {}
          : {
              layer_types: Array.from({ length: s.nLayer }, (_, i) =>
                window.layers.includes(i) ? 'sliding_attention' : 'full_attention',
              ),
            }),
      };
    }
  }
}

/**
 * A resolved DecoderConfig from the config.json of `arch`; every bad field named by its
 * key, every field that changes the math and cannot be represented rejected.
 */
export function llamaStyleFromHf(
  arch: LlamaStyleArchitecture,
  c: HfConfigJson,
  where: string,
): DecoderConfig {
  requireFields(c, requiredFields(c), arch.modelType, where);
  const problems: string[] = [];
  rejectCommonUnsupported(c, problems);
  for (const key of Object.keys(c)) {
    const known = lmforgeKeys.has(key) || (arch.experts && lmforgeExpertKeys.has(key));
    if (key.startsWith('lmforge_') && !known) problems.push(`${key}: unknown lmforge field`);
  }
  const d = arch.defaults;
  const heads = c['num_attention_heads'];
  const flag = (field: string): boolean | undefined => {
    const value = c[field] ?? false;
    if (typeof value === 'boolean') return value;
    problems.push(`${field}: expected true or false, got ${jsonText(value)}`);
    return undefined;
  };
  const fieldBias = arch.attentionBias === 'field' ? flag('attention_bias') : undefined;
  const attentionBias =
    c['lmforge_attention_bias'] ??
    (arch.attentionBias === 'field' ? (fieldBias === true ? 'all' : 'none') : arch.attentionBias);
  const mlpBias = c['lmforge_mlp_bias'] ?? (arch.mlpBias === 'field' ? flag('mlp_bias') : arch.mlpBias);
  if (
    c['lmforge_dropout'] !== undefined &&
    c['attention_dropout'] !== undefined &&
    c['attention_dropout'] !== c['lmforge_dropout']
  ) {
    problems.push(
      `attention_dropout: lmforge has one dropout rate; expected ${jsonText(c['lmforge_dropout'])} (lmforge_dropout), got ${jsonText(c['attention_dropout'])}`,
    );
  }
  const rope = ropeFromHf(c, d.ropeTheta, problems);
  const headDim = c['head_dim'] ?? d.headDim;
  const raw = {
    arch: arch.modelType,
    ...decoderHeadFromHf(c, arch.classes, problems),
    vocabSize: c['vocab_size'],
    nEmbd: c['hidden_size'],
    // head_dim null or absent means hidden_size / num_attention_heads (HF's getattr(config, "head_dim", None) or ...).
    ...(headDim === null ? {} : { headSize: headDim }),
    intermediateSize: c['intermediate_size'],
    nLayer: c['num_hidden_layers'],
    nHead: heads,
    // num_key_value_heads None means multi-head attention.
    nKvHead: c['num_key_value_heads'] ?? d.kvHeads ?? heads,
    blockSize: c['max_position_embeddings'] ?? d.maxPositions,
    activation: activationOf(c, 'hidden_act', 'silu', problems),
    normEps: c['rms_norm_eps'] ?? d.rmsNormEps,
    positional: positionalOf(c, 'rope', rope.theta, rope.scaling),
    // LayerNorm's bias (lmforge_norm layerNorm only); else it follows the attention's.
    bias: c['lmforge_bias'] ?? attentionBias === 'all',
    attentionBias,
    mlpBias,
    qkNorm: c['lmforge_qk_norm'] ?? arch.qkNorm,
    slidingWindow: windowFromHf(arch, c, problems),
    initStd: c['initializer_range'] ?? 0.02,
    tiedEmbeddings: c['tie_word_embeddings'] ?? d.tieWordEmbeddings,
    norm: c['lmforge_norm'] ?? 'rmsNorm',
    mlp: c['lmforge_mlp'] ?? 'swiglu',
    dropout: c['lmforge_dropout'] ?? c['attention_dropout'] ?? 0,
    ...(arch.experts ? { moe: moeFromHf(c) } : {}),
  };
  rejectUnsupported(problems, where);
  return resolveDecoderConfig(raw, where, llamaStyleFieldNames);
}

/** The config.json of `s` as `arch` writes it (HF keys, lmforge_* only for what it cannot say). */
export function llamaStyleToHf(arch: LlamaStyleArchitecture, s: DecoderConfig): Record<string, unknown> {
  const extras: Record<string, unknown> = {};
  if (s.positional.kind !== 'rope') extras['lmforge_positional'] = s.positional.kind;
  if (s.norm !== 'rmsNorm') extras['lmforge_norm'] = s.norm;
  if (s.mlp !== 'swiglu') extras['lmforge_mlp'] = s.mlp;
  // HF's Llama drops attention probabilities only (attention_dropout); lmforge's one rate
  // also drops embeddings and residual branches, which lmforge_dropout records.
  if (s.dropout !== 0) extras['lmforge_dropout'] = s.dropout;
  if (s.bias !== (s.attentionBias === 'all')) extras['lmforge_bias'] = s.bias;
  const fieldBias = arch.attentionBias === 'field';
  if (fieldBias ? s.attentionBias === 'qkv' : s.attentionBias !== arch.attentionBias)
    extras['lmforge_attention_bias'] = s.attentionBias;
  if (arch.mlpBias !== 'field' && s.mlpBias !== arch.mlpBias) extras['lmforge_mlp_bias'] = s.mlpBias;
  if (s.qkNorm !== arch.qkNorm) extras['lmforge_qk_norm'] = s.qkNorm;
  const rope = s.positional.kind === 'rope' ? s.positional : null;
  return {
    ...decoderHeadToHf(s, arch.classes),
    model_type: arch.modelType,
    vocab_size: s.vocabSize,
    hidden_size: s.nEmbd,
    intermediate_size: s.intermediateSize,
    num_hidden_layers: s.nLayer,
    num_attention_heads: s.nHead,
    num_key_value_heads: s.nKvHead,
    head_dim: s.headSize,
    max_position_embeddings: s.blockSize,
    hidden_act: activationToHf[s.activation],
    rms_norm_eps: s.normEps,
    rope_theta: rope?.theta ?? arch.defaults.ropeTheta,
    rope_scaling: rope === null ? null : ropeToHf(rope.scaling),
    ...(fieldBias ? { attention_bias: s.attentionBias === 'all' } : {}),
    ...(arch.mlpBias === 'field' ? { mlp_bias: s.mlpBias } : {}),
    ...windowToHf(arch, s),
    ...(s.moe === null ? {} : moeToHf(s.moe)),
    attention_dropout: s.dropout,
    initializer_range: s.initStd,
    tie_word_embeddings: s.tiedEmbeddings,
    torch_dtype: 'float32',
    ...extras,
  };
}
