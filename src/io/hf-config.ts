/**
 * Hugging Face `config.json` <-> lmforge decoder settings, for GPT2Config
 * (GPT2LMHeadModel) and LlamaConfig (LlamaForCausalLM). snake_case lives only here.
 *
 * Settings HF has no field for (sinusoidal positions, bias on/off for GPT-2, RMSNorm in a
 * GPT-2, ...) are stored under `lmforge_*` keys, written only when they differ from what
 * the architecture implies, so an HF-compatible model writes an HF-clean config and every
 * config round-trips exactly. The fields that size the weights are required (HF's defaults
 * for them describe GPT-2 small and Llama-7B); the rest take HF's defaults. The result of
 * hfConfigToDecoder is raw: the models layer
 * validates it (resolveDecoderConfig), so a bad field is reported there with all others.
 *
 * io may not import models; DecoderSettings mirrors models' DecoderConfig structurally.
 */
import { ConfigError } from '../util/errors.js';

type Activation = 'gelu' | 'geluTanh' | 'relu' | 'silu';
type Positional =
  | { readonly kind: 'learned' }
  | { readonly kind: 'sinusoidal' }
  | { readonly kind: 'rope'; readonly theta: number };

/** The decoder settings this file converts (models' DecoderConfig satisfies it). */
export interface DecoderSettings {
  readonly arch: 'gpt2' | 'llama';
  readonly vocabSize: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly nKvHead: number;
  readonly nEmbd: number;
  readonly intermediateSize: number;
  readonly blockSize: number;
  readonly positional: Positional;
  readonly norm: 'layerNorm' | 'rmsNorm';
  readonly normEps: number;
  readonly mlp: 'gelu' | 'swiglu';
  readonly activation: Activation;
  readonly bias: boolean;
  readonly tiedEmbeddings: boolean;
  readonly dropout: number;
  readonly initStd: number;
}

/** HF activation names (ACT2FN keys) for each lmforge activation. */
const activationToHf: Readonly<Record<Activation, string>> = {
  gelu: 'gelu',
  geluTanh: 'gelu_new',
  relu: 'relu',
  silu: 'silu',
};
const activationFromHf: Readonly<Record<string, Activation>> = {
  gelu: 'gelu',
  gelu_new: 'geluTanh',
  gelu_pytorch_tanh: 'geluTanh',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
};

/** The config.json key each setting comes from, per model_type (for naming fields in errors). */
export const hfFieldNames: Readonly<Record<DecoderSettings['arch'], Readonly<Record<string, string>>>> = {
  gpt2: {
    vocabSize: 'vocab_size',
    blockSize: 'n_positions',
    nEmbd: 'n_embd',
    nLayer: 'n_layer',
    nHead: 'n_head',
    nKvHead: 'lmforge_n_kv_head',
    intermediateSize: 'n_inner',
    activation: 'activation_function',
    dropout: 'resid_pdrop',
    normEps: 'layer_norm_epsilon',
    initStd: 'initializer_range',
    tiedEmbeddings: 'tie_word_embeddings',
    positional: 'lmforge_positional',
    ropeTheta: 'lmforge_rope_theta',
    norm: 'lmforge_norm',
    mlp: 'lmforge_mlp',
    bias: 'lmforge_bias',
  },
  llama: {
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
  },
};

/**
 * The fields that size the weights: HF's own defaults for them describe GPT-2 small and
 * Llama-7B, which a config.json that leaves them out almost never means (and which would
 * be allocated before the weights could disagree), so they must be given. Every other
 * field has HF's default. With learned positions the context length sizes a weight too.
 */
function requiredFields(modelType: 'gpt2' | 'llama', c: Record<string, unknown>): string[] {
  const required =
    modelType === 'gpt2'
      ? ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head']
      : ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads'];
  if (modelType === 'llama' && c['lmforge_positional'] === 'learned')
    required.push('max_position_embeddings');
  return required;
}

/**
 * The HF config.json object for `settings`.
 *
 * @example
 * writeFileSync('config.json', JSON.stringify(decoderToHfConfig(model.config), null, 2));
 */
export function decoderToHfConfig(settings: DecoderSettings): Record<string, unknown> {
  const s = settings;
  const extras: Record<string, unknown> = {};
  const positionalKind = s.positional.kind;
  if (s.arch === 'gpt2') {
    if (positionalKind !== 'learned') extras['lmforge_positional'] = positionalKind;
    if (s.positional.kind === 'rope') extras['lmforge_rope_theta'] = s.positional.theta;
    if (s.norm !== 'layerNorm') extras['lmforge_norm'] = s.norm;
    if (s.mlp !== 'gelu') extras['lmforge_mlp'] = s.mlp;
    if (!s.bias) extras['lmforge_bias'] = false;
    if (s.nKvHead !== s.nHead) extras['lmforge_n_kv_head'] = s.nKvHead;
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: s.vocabSize,
      n_positions: s.blockSize,
      n_embd: s.nEmbd,
      n_layer: s.nLayer,
      n_head: s.nHead,
      n_inner: s.intermediateSize,
      activation_function: activationToHf[s.activation],
      // One rate for embeddings, residual branches and attention probabilities, as nanoGPT.
      resid_pdrop: s.dropout,
      embd_pdrop: s.dropout,
      attn_pdrop: s.dropout,
      layer_norm_epsilon: s.normEps,
      initializer_range: s.initStd,
      tie_word_embeddings: s.tiedEmbeddings,
      torch_dtype: 'float32',
      ...extras,
    };
  }
  if (positionalKind !== 'rope') extras['lmforge_positional'] = positionalKind;
  if (s.norm !== 'rmsNorm') extras['lmforge_norm'] = s.norm;
  if (s.mlp !== 'swiglu') extras['lmforge_mlp'] = s.mlp;
  // HF's Llama drops attention probabilities only (attention_dropout); lmforge's one rate
  // also drops embeddings and residual branches, which lmforge_dropout records.
  if (s.dropout !== 0) extras['lmforge_dropout'] = s.dropout;
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
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
    attention_bias: s.bias,
    mlp_bias: s.bias,
    attention_dropout: s.dropout,
    initializer_range: s.initStd,
    tie_word_embeddings: s.tiedEmbeddings,
    torch_dtype: 'float32',
    ...extras,
  };
}

/**
 * Raw (unvalidated) decoder settings from an HF config.json object. Throws ConfigError
 * for an unsupported model_type or for HF fields lmforge cannot represent; the caller
 * validates ranges and types with resolveDecoderConfig.
 */
export function hfConfigToDecoder(json: unknown, where = 'config.json'): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError('config is not a JSON object', { where, actual: JSON.stringify(json) });
  }
  const c = json as Record<string, unknown>;
  const problems: string[] = [];
  const activation = (field: string, fallback: string): unknown => {
    const name = c[field] ?? fallback;
    const mapped = typeof name === 'string' ? activationFromHf[name] : undefined;
    if (mapped === undefined) {
      problems.push(
        `${field}: expected one of ${Object.keys(activationFromHf).join(' | ')}, got ${JSON.stringify(name)}`,
      );
    }
    return mapped;
  };
  const positional = (fallback: string, theta: unknown): unknown => {
    const kind = c['lmforge_positional'] ?? fallback;
    return kind === 'rope' ? { kind, theta } : kind;
  };
  const modelType = c['model_type'];
  if (modelType !== 'gpt2' && modelType !== 'llama') {
    throw new ConfigError('unsupported model_type', {
      where: `${where}: model_type`,
      expected: 'gpt2 | llama',
      actual: JSON.stringify(modelType),
    });
  }
  const missing = requiredFields(modelType, c).filter((field) => c[field] === undefined || c[field] === null);
  if (missing.length > 0) {
    throw new ConfigError(`required field${missing.length === 1 ? '' : 's'} missing: ${missing.join(', ')}`, {
      where,
      hint: `a ${modelType} config.json must give the model's dimensions (${requiredFields(modelType, c).join(', ')})`,
    });
  }
  let raw: Record<string, unknown>;
  switch (modelType) {
    case 'gpt2': {
      if (c['scale_attn_by_inverse_layer_idx'] === true || c['reorder_and_upcast_attn'] === true) {
        problems.push(
          'scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn: not supported (must be false)',
        );
      }
      const nEmbd = c['n_embd'];
      const pdrop = c['resid_pdrop'] ?? 0.1;
      for (const field of ['embd_pdrop', 'attn_pdrop']) {
        if (c[field] !== undefined && c[field] !== pdrop) {
          problems.push(
            `${field}: lmforge has one dropout rate; expected ${JSON.stringify(pdrop)} (resid_pdrop), got ${JSON.stringify(c[field])}`,
          );
        }
      }
      raw = {
        arch: 'gpt2',
        vocabSize: c['vocab_size'],
        blockSize: c['n_positions'],
        nEmbd,
        nLayer: c['n_layer'],
        nHead: c['n_head'],
        nKvHead: c['lmforge_n_kv_head'] ?? c['n_head'],
        // n_inner null means 4 * n_embd in GPT2MLP.
        intermediateSize: c['n_inner'] ?? (typeof nEmbd === 'number' ? 4 * nEmbd : nEmbd),
        activation: activation('activation_function', 'gelu_new'),
        dropout: pdrop,
        normEps: c['layer_norm_epsilon'] ?? 1e-5,
        initStd: c['initializer_range'] ?? 0.02,
        tiedEmbeddings: c['tie_word_embeddings'] ?? true,
        positional: positional('learned', c['lmforge_rope_theta'] ?? 10000),
        norm: c['lmforge_norm'] ?? 'layerNorm',
        mlp: c['lmforge_mlp'] ?? 'gelu',
        bias: c['lmforge_bias'] ?? true,
      };
      break;
    }
    case 'llama': {
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
        typeof c['hidden_size'] === 'number' &&
        typeof heads === 'number' &&
        c['head_dim'] !== c['hidden_size'] / heads
      ) {
        problems.push(
          `head_dim: must equal hidden_size / num_attention_heads, got ${JSON.stringify(c['head_dim'])}`,
        );
      }
      raw = {
        arch: 'llama',
        vocabSize: c['vocab_size'],
        nEmbd: c['hidden_size'],
        intermediateSize: c['intermediate_size'],
        nLayer: c['num_hidden_layers'],
        nHead: heads,
        // HF: num_key_value_heads None means multi-head attention.
        nKvHead: c['num_key_value_heads'] ?? heads,
        blockSize: c['max_position_embeddings'] ?? 2048,
        activation: activation('hidden_act', 'silu'),
        normEps: c['rms_norm_eps'] ?? 1e-6,
        positional: positional('rope', c['rope_theta'] ?? 10000),
        bias: attentionBias,
        initStd: c['initializer_range'] ?? 0.02,
        tiedEmbeddings: c['tie_word_embeddings'] ?? false,
        norm: c['lmforge_norm'] ?? 'rmsNorm',
        mlp: c['lmforge_mlp'] ?? 'swiglu',
        dropout: c['lmforge_dropout'] ?? c['attention_dropout'] ?? 0,
      };
      break;
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} unsupported field${problems.length === 1 ? '' : 's'}`, {
      where,
      actual: problems.join('; '),
    });
  }
  return raw;
}
