/**
 * config.json of the recurrent models <-> RnnConfig. Hugging Face has no LSTM or GRU
 * language model, so the model_type is lmforge's own (`lmforge-lstm`, `lmforge-gru`) and
 * transformers' AutoConfig does not load these folders; the keys follow HF's naming where
 * one exists (vocab_size, hidden_size, num_hidden_layers, tie_word_embeddings, ...). The
 * weights' names are PyTorch's (examples/word_language_model: encoder, rnn, decoder), so
 * `torch.nn.LSTM(...).load_state_dict` takes the `rnn.*` tensors as they are.
 */
import type { HfConfigJson } from '../decoder/hf-common.js';
import { requireFields } from '../decoder/hf-common.js';
import { resolveRnnConfig, type RnnArch, type RnnConfig, type RnnFieldNames } from './config.js';

export const rnnFieldNames: RnnFieldNames = {
  vocabSize: 'vocab_size',
  nLayer: 'num_hidden_layers',
  nEmbd: 'embedding_size',
  hiddenSize: 'hidden_size',
  dropout: 'dropout',
  tiedEmbeddings: 'tie_word_embeddings',
  maxPositions: 'max_position_embeddings',
  initRange: 'initializer_range',
};

const architectures: Readonly<Record<RnnArch, string>> = {
  'lmforge-lstm': 'LmforgeLstmForCausalLM',
  'lmforge-gru': 'LmforgeGruForCausalLM',
};

export function rnnToHf(c: RnnConfig): Record<string, unknown> {
  return {
    architectures: [architectures[c.arch]],
    model_type: c.arch,
    vocab_size: c.vocabSize,
    embedding_size: c.nEmbd,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.nLayer,
    dropout: c.dropout,
    tie_word_embeddings: c.tiedEmbeddings,
    max_position_embeddings: c.maxPositions,
    initializer_range: c.initRange,
    torch_dtype: 'float32',
  };
}

/** A resolved RnnConfig from a config.json object of `arch`; every bad field named by its key. */
export function rnnFromHf(arch: RnnArch, c: HfConfigJson, where: string): RnnConfig {
  requireFields(c, ['vocab_size', 'hidden_size', 'num_hidden_layers'], arch, where);
  return resolveRnnConfig(
    {
      arch,
      vocabSize: c['vocab_size'],
      nLayer: c['num_hidden_layers'],
      nEmbd: c['embedding_size'] ?? c['hidden_size'],
      hiddenSize: c['hidden_size'],
      dropout: c['dropout'] ?? 0,
      tiedEmbeddings: c['tie_word_embeddings'] ?? true,
      maxPositions: c['max_position_embeddings'] ?? 1024,
      initRange: c['initializer_range'] ?? 0.1,
    },
    where,
    rnnFieldNames,
  );
}
