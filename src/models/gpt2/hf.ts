/**
 * GPT2Config (config.json of GPT2LMHeadModel) <-> DecoderConfig. snake_case lives only in
 * the HF mappings; lmforge_* keys hold what GPT2Config cannot say (decoder/hf-common.ts).
 * The fields that size the weights are required; the rest take HF's defaults.
 *
 * Read: vocab_size, n_positions, n_embd, n_layer, n_head, n_inner (null: 4 n_embd),
 * activation_function (gelu_new), resid_pdrop / embd_pdrop / attn_pdrop (one rate, training
 * only), layer_norm_epsilon (1e-5), initializer_range, tie_word_embeddings (true),
 * scale_attn_weights (must be true), scale_attn_by_inverse_layer_idx (must be false).
 * Ignored, because GPT2LMHeadModel's forward does not depend on them: n_ctx (the old name of
 * n_positions, unused), reorder_and_upcast_attn (it upcasts the attention scores to float32,
 * which lmforge computes in anyway), the summary_* fields (the double-heads model's
 * classifier), task_specific_params (pipeline settings), use_cache, bos/eos_token_id (eos
 * is read for generation when there is no generation_config.json), torch_dtype.
 * Rejected: scale_attn_weights false, scale_attn_by_inverse_layer_idx true, and the fields
 * no family supports (quantization_config, auto_map, add_cross_attention, ...).
 */
import { resolveDecoderConfig, type DecoderConfig, type FieldNames } from '../decoder/config.js';
import {
  activationOf,
  activationToHf,
  decoderHeadFromHf,
  decoderHeadToHf,
  positionalOf,
  rejectCommonUnsupported,
  rejectUnsupported,
  requireFields,
  type HfConfigJson,
} from '../decoder/hf-common.js';
import { jsonText } from '../../util/preview.js';

/** The HF classes of the gpt2 heads (config.json's `architectures`). */
const gpt2Classes = { causalLm: 'GPT2LMHeadModel', sequenceClassification: 'GPT2ForSequenceClassification' };

/** The config.json key of each DecoderConfig field (for naming fields in errors). */
export const gpt2FieldNames: FieldNames = {
  head: 'architectures',
  labels: 'id2label',
  problemType: 'problem_type',
  padTokenId: 'pad_token_id',
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
  ropeScaling: 'lmforge_rope_scaling',
  headSize: 'lmforge_head_dim',
  attentionBias: 'lmforge_attention_bias',
  mlpBias: 'lmforge_mlp_bias',
  qkNorm: 'lmforge_qk_norm',
  slidingWindow: 'lmforge_sliding_window',
  norm: 'lmforge_norm',
  mlp: 'lmforge_mlp',
  bias: 'lmforge_bias',
};

const required = ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'];

/**
 * @example
 * writeFileSync('config.json', jsonText(gpt2ToHf(model.config), null, 2));
 */
export function gpt2ToHf(s: DecoderConfig): Record<string, unknown> {
  const extras: Record<string, unknown> = {};
  if (s.positional.kind !== 'learned') extras['lmforge_positional'] = s.positional.kind;
  if (s.positional.kind === 'rope') {
    extras['lmforge_rope_theta'] = s.positional.theta;
    if (s.positional.scaling.kind !== 'none') extras['lmforge_rope_scaling'] = s.positional.scaling;
  }
  if (s.headSize * s.nHead !== s.nEmbd) extras['lmforge_head_dim'] = s.headSize;
  if (s.attentionBias !== (s.bias ? 'all' : 'none')) extras['lmforge_attention_bias'] = s.attentionBias;
  if (s.mlpBias !== s.bias) extras['lmforge_mlp_bias'] = s.mlpBias;
  if (s.qkNorm) extras['lmforge_qk_norm'] = true;
  if (s.slidingWindow !== null) {
    extras['lmforge_sliding_window'] = { size: s.slidingWindow.size, layers: [...s.slidingWindow.layers] };
  }
  if (s.norm !== 'layerNorm') extras['lmforge_norm'] = s.norm;
  if (s.mlp !== 'gelu') extras['lmforge_mlp'] = s.mlp;
  if (!s.bias) extras['lmforge_bias'] = false;
  if (s.nKvHead !== s.nHead) extras['lmforge_n_kv_head'] = s.nKvHead;
  return {
    ...decoderHeadToHf(s, gpt2Classes),
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

/** A resolved DecoderConfig from a GPT-2 config.json object; every bad field named by its key. */
export function gpt2FromHf(c: HfConfigJson, where: string): DecoderConfig {
  requireFields(c, required, 'gpt2', where);
  const problems: string[] = [];
  rejectCommonUnsupported(c, problems);
  if (c['scale_attn_by_inverse_layer_idx'] === true) {
    problems.push(
      'scale_attn_by_inverse_layer_idx: scores scaled by 1 / (layer + 1) are not supported (must be false)',
    );
  }
  if (c['scale_attn_weights'] === false) {
    problems.push(
      'scale_attn_weights: attention without the 1 / sqrt(head size) scale is not supported (must be true)',
    );
  }
  const nEmbd = c['n_embd'];
  const bias = c['lmforge_bias'] ?? true;
  const pdrop = c['resid_pdrop'] ?? 0.1;
  for (const field of ['embd_pdrop', 'attn_pdrop']) {
    if (c[field] !== undefined && c[field] !== pdrop) {
      problems.push(
        `${field}: lmforge has one dropout rate; expected ${jsonText(pdrop)} (resid_pdrop), got ${jsonText(c[field])}`,
      );
    }
  }
  const raw = {
    arch: 'gpt2',
    ...decoderHeadFromHf(c, gpt2Classes, problems),
    vocabSize: c['vocab_size'],
    blockSize: c['n_positions'],
    nEmbd,
    nLayer: c['n_layer'],
    nHead: c['n_head'],
    nKvHead: c['lmforge_n_kv_head'] ?? c['n_head'],
    // n_inner null means 4 * n_embd in GPT2MLP.
    intermediateSize: c['n_inner'] ?? (typeof nEmbd === 'number' ? 4 * nEmbd : nEmbd),
    activation: activationOf(c, 'activation_function', 'gelu_new', problems),
    dropout: pdrop,
    normEps: c['layer_norm_epsilon'] ?? 1e-5,
    initStd: c['initializer_range'] ?? 0.02,
    tiedEmbeddings: c['tie_word_embeddings'] ?? true,
    positional: positionalOf(c, 'learned', c['lmforge_rope_theta'] ?? 10000, c['lmforge_rope_scaling']),
    norm: c['lmforge_norm'] ?? 'layerNorm',
    mlp: c['lmforge_mlp'] ?? 'gelu',
    bias,
    attentionBias: c['lmforge_attention_bias'] ?? (bias === false ? 'none' : 'all'),
    mlpBias: c['lmforge_mlp_bias'] ?? bias,
    ...(c['lmforge_head_dim'] === undefined ? {} : { headSize: c['lmforge_head_dim'] }),
    qkNorm: c['lmforge_qk_norm'] ?? false,
    slidingWindow: c['lmforge_sliding_window'] ?? null,
  };
  rejectUnsupported(problems, where);
  return resolveDecoderConfig(raw, where, gpt2FieldNames);
}
