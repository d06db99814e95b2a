/**
 * BertConfig (config.json of BertForMaskedLM, BertForSequenceClassification,
 * BertForTokenClassification, BertModel) <-> BertConfig. snake_case lives only here (and in
 * heads/labels.ts for id2label). `architectures` names the head; settings HF has no field
 * for (pre-norm placement) are `lmforge_*` keys, written only when they differ from BERT,
 * so an HF-compatible model writes an HF-clean config and every config round-trips.
 * The fields that size the weights are required; the rest take HF's defaults.
 */
import type { HfConfigJson } from '../decoder/hf-common.js';
import { requireFields } from '../decoder/hf-common.js';
import { labelsFromHf, labelsToHf } from '../heads/labels.js';
import {
  headHasLabels,
  resolveBertConfig,
  type BertActivation,
  type BertConfig,
  type BertFieldNames,
  type BertHead,
} from './config.js';
import { jsonText } from '../../util/preview.js';

/** The config.json key of each BertConfig field (for naming fields in errors). */
export const bertFieldNames: BertFieldNames = {
  head: 'architectures',
  vocabSize: 'vocab_size',
  nEmbd: 'hidden_size',
  nLayer: 'num_hidden_layers',
  nHead: 'num_attention_heads',
  intermediateSize: 'intermediate_size',
  activation: 'hidden_act',
  dropout: 'hidden_dropout_prob',
  attentionDropout: 'attention_probs_dropout_prob',
  classifierDropout: 'classifier_dropout',
  maxPositions: 'max_position_embeddings',
  typeVocabSize: 'type_vocab_size',
  normEps: 'layer_norm_eps',
  padTokenId: 'pad_token_id',
  placement: 'lmforge_norm_placement',
  initStd: 'initializer_range',
  labels: 'id2label',
  problemType: 'problem_type',
};

/** The HF class of each head (config.json's `architectures`). */
export const bertArchitectures: Readonly<Record<BertHead, string>> = {
  'masked-lm': 'BertForMaskedLM',
  'sequence-classification': 'BertForSequenceClassification',
  'token-classification': 'BertForTokenClassification',
  none: 'BertModel',
};

/**
 * The classes a BERT config.json may name. BertForPreTraining (the original checkpoints:
 * MLM + next-sentence heads) loads as BertForMaskedLM, its next-sentence head and pooler
 * left out, as HF's BertForMaskedLM.from_pretrained does.
 */
const headOfArchitecture: Readonly<Record<string, BertHead>> = {
  ...Object.fromEntries(Object.entries(bertArchitectures).map(([head, name]) => [name, head as BertHead])),
  BertForPreTraining: 'masked-lm',
};

const activationToHf: Readonly<Record<BertActivation, string>> = {
  gelu: 'gelu',
  geluTanh: 'gelu_new',
  relu: 'relu',
};

const activationFromHf: Readonly<Record<string, BertActivation>> = {
  gelu: 'gelu',
  gelu_new: 'geluTanh',
  gelu_pytorch_tanh: 'geluTanh',
  relu: 'relu',
};

const required = [
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
];

/**
 * @example
 * writeFileSync('config.json', JSON.stringify(bertToHf(model.config), null, 2));
 */
export function bertToHf(c: BertConfig): Record<string, unknown> {
  return {
    architectures: [bertArchitectures[c.head]],
    model_type: 'bert',
    vocab_size: c.vocabSize,
    hidden_size: c.nEmbd,
    num_hidden_layers: c.nLayer,
    num_attention_heads: c.nHead,
    intermediate_size: c.intermediateSize,
    hidden_act: activationToHf[c.activation],
    hidden_dropout_prob: c.dropout,
    attention_probs_dropout_prob: c.attentionDropout,
    classifier_dropout: c.classifierDropout,
    max_position_embeddings: c.maxPositions,
    type_vocab_size: c.typeVocabSize,
    initializer_range: c.initStd,
    layer_norm_eps: c.normEps,
    pad_token_id: c.padTokenId,
    position_embedding_type: 'absolute',
    ...(c.labels === null ? {} : labelsToHf(c.labels)),
    torch_dtype: 'float32',
    ...(c.placement === 'post' ? {} : { lmforge_norm_placement: c.placement }),
  };
}

/** The head `architectures` names (absent: BertModel); an unknown class is a problem. */
function headOf(c: HfConfigJson, problems: string[]): BertHead {
  const architectures = c['architectures'];
  if (architectures === undefined || architectures === null) return 'none';
  const names = Object.keys(headOfArchitecture).join(' | ');
  if (!Array.isArray(architectures) || architectures.length !== 1 || typeof architectures[0] !== 'string') {
    problems.push(`architectures: expected one of [${names}] (one class), got ${jsonText(architectures)}`);
    return 'none';
  }
  const head = headOfArchitecture[architectures[0]];
  if (head === undefined) {
    problems.push(`architectures: expected one of ${names}, got ${jsonText(architectures[0])}`);
    return 'none';
  }
  return head;
}

/** A resolved BertConfig from a config.json object; every bad field named by its key, in one error. */
export function bertFromHf(c: HfConfigJson, where: string): BertConfig {
  requireFields(c, required, 'bert', where);
  const problems: string[] = [];
  const head = headOf(c, problems);
  const hiddenAct = c['hidden_act'] ?? 'gelu';
  const activation = typeof hiddenAct === 'string' ? activationFromHf[hiddenAct] : undefined;
  if (activation === undefined) {
    problems.push(
      `hidden_act: expected one of ${Object.keys(activationFromHf).join(' | ')}, got ${jsonText(hiddenAct)}`,
    );
  }
  const positions = c['position_embedding_type'] ?? 'absolute';
  if (positions !== 'absolute') {
    problems.push(
      `position_embedding_type: expected 'absolute' (relative_key and relative_key_query are not supported), got ${jsonText(positions)}`,
    );
  }
  if (c['is_decoder'] === true) problems.push('is_decoder: not supported (a causal BERT); expected false');
  if (c['add_cross_attention'] === true) problems.push('add_cross_attention: not supported; expected false');
  // Checked whatever the head (HF reads the label map of every model); used by classifiers.
  const labels = labelsFromHf(c, problems);
  const raw = {
    head,
    vocabSize: c['vocab_size'],
    nEmbd: c['hidden_size'],
    nLayer: c['num_hidden_layers'],
    nHead: c['num_attention_heads'],
    intermediateSize: c['intermediate_size'],
    activation: activation ?? 'gelu',
    dropout: c['hidden_dropout_prob'] ?? 0.1,
    attentionDropout: c['attention_probs_dropout_prob'] ?? 0.1,
    classifierDropout: c['classifier_dropout'] ?? null,
    maxPositions: c['max_position_embeddings'] ?? 512,
    typeVocabSize: c['type_vocab_size'] ?? 2,
    normEps: c['layer_norm_eps'] ?? 1e-12,
    // HF's BertConfig default; null (no padding id) is kept.
    padTokenId: c['pad_token_id'] === undefined ? 0 : c['pad_token_id'],
    placement: c['lmforge_norm_placement'] ?? 'post',
    initStd: c['initializer_range'] ?? 0.02,
    ...(headHasLabels(head) ? labels : {}),
  };
  return resolveBertConfig(raw, where, bertFieldNames, problems);
}
