/**
 * MarianConfig (config.json of HF MarianMTModel) <-> lmforge's MarianConfig. snake_case
 * lives only here. The fields that size the weights are required; the others take HF
 * MarianConfig's defaults when absent (gelu, no embedding scale, dropout 0.1,
 * forced_eos_token_id 0, ...), which is what transformers builds from such a file.
 *
 * Settings MarianMTModel cannot express are stored under the keys older transformers'
 * BART/Marian configs used for them, written only when they differ from Marian:
 * `normalize_before` + `add_final_layer_norm` (pre-norm, with a final LayerNorm per stack)
 * and `static_position_embeddings: false` (learned positions, saved as embed_positions).
 */
import {
  activationOf,
  activationToHf,
  rejectUnsupported,
  requireFields,
  type HfConfigJson,
} from '../decoder/hf-common.js';
import { resolveMarianConfig, type MarianConfig, type MarianFieldNames } from './config.js';
import { jsonText } from '../../util/preview.js';

/** The config.json key of each MarianConfig field (for naming fields in errors). */
export const marianFieldNames: MarianFieldNames = {
  vocabSize: 'vocab_size',
  decoderVocabSize: 'decoder_vocab_size',
  dModel: 'd_model',
  encoderLayers: 'encoder_layers',
  decoderLayers: 'decoder_layers',
  encoderHeads: 'encoder_attention_heads',
  decoderHeads: 'decoder_attention_heads',
  encoderFfnDim: 'encoder_ffn_dim',
  decoderFfnDim: 'decoder_ffn_dim',
  activation: 'activation_function',
  maxPositions: 'max_position_embeddings',
  positions: 'static_position_embeddings',
  normPlacement: 'normalize_before',
  scaleEmbedding: 'scale_embedding',
  shareEmbeddings: 'share_encoder_decoder_embeddings',
  tieWordEmbeddings: 'tie_word_embeddings',
  padTokenId: 'pad_token_id',
  eosTokenId: 'eos_token_id',
  decoderStartTokenId: 'decoder_start_token_id',
  forcedEosTokenId: 'forced_eos_token_id',
  dropout: 'dropout',
  attentionDropout: 'attention_dropout',
  activationDropout: 'activation_dropout',
  initStd: 'init_std',
};

const required = [
  'vocab_size',
  'd_model',
  'encoder_layers',
  'decoder_layers',
  'encoder_attention_heads',
  'decoder_attention_heads',
  'encoder_ffn_dim',
  'decoder_ffn_dim',
  'max_position_embeddings',
  'pad_token_id',
  'eos_token_id',
  'decoder_start_token_id',
];

/** HF MarianConfig's defaults for what a config.json may leave out. */
const hfDefaults = {
  activation_function: 'gelu',
  scale_embedding: false,
  share_encoder_decoder_embeddings: true,
  tie_word_embeddings: true,
  forced_eos_token_id: 0,
  dropout: 0.1,
  attention_dropout: 0,
  activation_dropout: 0,
  init_std: 0.02,
} as const;

/**
 * @example
 * writeFileSync('config.json', JSON.stringify(marianToHf(model.config), null, 2));
 */
export function marianToHf(c: MarianConfig): Record<string, unknown> {
  const extras: Record<string, unknown> = {};
  if (c.normPlacement === 'pre') {
    extras['normalize_before'] = true;
    extras['add_final_layer_norm'] = true;
  }
  if (c.positions === 'learned') extras['static_position_embeddings'] = false;
  return {
    architectures: ['MarianMTModel'],
    model_type: 'marian',
    is_encoder_decoder: true,
    vocab_size: c.vocabSize,
    decoder_vocab_size: c.decoderVocabSize,
    d_model: c.dModel,
    encoder_layers: c.encoderLayers,
    decoder_layers: c.decoderLayers,
    encoder_attention_heads: c.encoderHeads,
    decoder_attention_heads: c.decoderHeads,
    encoder_ffn_dim: c.encoderFfnDim,
    decoder_ffn_dim: c.decoderFfnDim,
    activation_function: activationToHf[c.activation],
    max_position_embeddings: c.maxPositions,
    scale_embedding: c.scaleEmbedding,
    share_encoder_decoder_embeddings: c.shareEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    pad_token_id: c.padTokenId,
    eos_token_id: c.eosTokenId,
    decoder_start_token_id: c.decoderStartTokenId,
    // Written even when null: MarianConfig's default (0) would force an EOS otherwise.
    forced_eos_token_id: c.forcedEosTokenId,
    dropout: c.dropout,
    attention_dropout: c.attentionDropout,
    activation_dropout: c.activationDropout,
    init_std: c.initStd,
    encoder_layerdrop: 0,
    decoder_layerdrop: 0,
    use_cache: true,
    torch_dtype: 'float32',
    ...extras,
  };
}

/** A resolved MarianConfig from a Marian config.json object; every bad field named by its key. */
export function marianFromHf(c: HfConfigJson, where: string): MarianConfig {
  requireFields(c, required, 'marian', where);
  const problems: string[] = [];
  const given = <K extends keyof typeof hfDefaults>(key: K): unknown => c[key] ?? hfDefaults[key];
  for (const field of ['encoder_layerdrop', 'decoder_layerdrop']) {
    if (c[field] !== undefined && c[field] !== null && c[field] !== 0) {
      problems.push(`${field}: LayerDrop is not supported (must be 0), got ${jsonText(c[field])}`);
    }
  }
  // Keys of transformers 3.x Marian/BART configs (Helsinki-NLP's config.json files have them).
  for (const field of ['normalize_embedding', 'add_bias_logits']) {
    if (c[field] === true) problems.push(`${field}: not supported (must be false)`);
  }
  const preNorm = c['normalize_before'] ?? false;
  if (typeof preNorm !== 'boolean') {
    problems.push(`normalize_before: expected true or false, got ${jsonText(preNorm)}`);
  } else if ((c['add_final_layer_norm'] ?? preNorm) !== preNorm) {
    problems.push(
      `add_final_layer_norm: lmforge's pre-norm stacks end in a LayerNorm and post-norm ones do not; expected ${preNorm} (normalize_before), got ${jsonText(c['add_final_layer_norm'])}`,
    );
  }
  const staticPositions = c['static_position_embeddings'] ?? true;
  if (typeof staticPositions !== 'boolean') {
    problems.push(`static_position_embeddings: expected true or false, got ${jsonText(staticPositions)}`);
  }
  if (c['is_encoder_decoder'] === false)
    problems.push('is_encoder_decoder: a MarianMTModel is an encoder-decoder');
  const raw = {
    arch: 'marian',
    vocabSize: c['vocab_size'],
    // MarianConfig: decoder_vocab_size or vocab_size.
    decoderVocabSize: c['decoder_vocab_size'] ?? c['vocab_size'],
    dModel: c['d_model'],
    encoderLayers: c['encoder_layers'],
    decoderLayers: c['decoder_layers'],
    encoderHeads: c['encoder_attention_heads'],
    decoderHeads: c['decoder_attention_heads'],
    encoderFfnDim: c['encoder_ffn_dim'],
    decoderFfnDim: c['decoder_ffn_dim'],
    activation: activationOf(c, 'activation_function', hfDefaults.activation_function, problems),
    maxPositions: c['max_position_embeddings'],
    positions: staticPositions === false ? 'learned' : 'sinusoidal',
    normPlacement: preNorm === true ? 'pre' : 'post',
    scaleEmbedding: given('scale_embedding'),
    shareEmbeddings: given('share_encoder_decoder_embeddings'),
    tieWordEmbeddings: given('tie_word_embeddings'),
    padTokenId: c['pad_token_id'],
    eosTokenId: c['eos_token_id'],
    decoderStartTokenId: c['decoder_start_token_id'],
    forcedEosTokenId:
      c['forced_eos_token_id'] === undefined ? hfDefaults.forced_eos_token_id : c['forced_eos_token_id'],
    dropout: given('dropout'),
    attentionDropout: given('attention_dropout'),
    activationDropout: given('activation_dropout'),
    initStd: given('init_std'),
  };
  rejectUnsupported(problems, where);
  return resolveMarianConfig(raw, where, marianFieldNames);
}
