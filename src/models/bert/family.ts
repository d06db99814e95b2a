/**
 * The BERT family (model_type 'bert'): BertForMaskedLM, BertForSequenceClassification,
 * BertForTokenClassification and BertModel, one ModelFamily whose config's `head` (HF's
 * `architectures`) picks the class.
 */
import type { ArchitectureSummary, ModelFamily } from '../family.js';
import { resolveBertConfig, type BertConfig } from './config.js';
import { bertArchitectures, bertFromHf, bertToHf } from './hf.js';
import { BertModel } from './model.js';
import { bertCheckpointKeys, bertParameterShapes, bertSize } from './weights.js';

function describeBert(c: BertConfig): ArchitectureSummary {
  return {
    layers: c.nLayer,
    heads: c.nHead,
    kvHeads: c.nHead,
    width: c.nEmbd,
    mlp: { kind: c.activation, intermediateSize: c.intermediateSize },
    context: c.maxPositions,
    vocabSize: c.vocabSize,
    positions: 'learned',
    norm: `layerNorm (${c.placement}-norm)`,
    tiedEmbeddings: c.head === 'masked-lm',
    architecture: bertArchitectures[c.head],
    ...(c.labels === null ? {} : { labels: c.labels.names }),
  };
}

export const bertFamily: ModelFamily<BertConfig> = {
  modelType: 'bert',
  fromHf: bertFromHf,
  toHf: bertToHf,
  create: (config, options) => new BertModel(config, options),
  parameterShapes: bertParameterShapes,
  checkpointKeys: bertCheckpointKeys,
  size: bertSize,
  describe: describeBert,
};

/** Typed settings of bertPreset: any subset of BertConfig's fields, labels as names. */
export type BertOverrides = Partial<Omit<BertConfig, 'arch' | 'headSize' | 'labels'>> & {
  readonly labels?: readonly string[];
  readonly problemType?: 'single_label_classification' | null;
};

/** bert-base-uncased's sizes, for every size bertPreset is not given. */
const bertBase = { vocabSize: 30522, nEmbd: 768, nLayer: 12, nHead: 12 } as const;

/**
 * A BertConfig: bert-base-uncased's settings, with `overrides` (resolved and checked by
 * resolveBertConfig; intermediateSize defaults to 4 nEmbd).
 *
 * @example
 * const config = bertPreset({ vocabSize: 1000, nEmbd: 128, nLayer: 4, nHead: 4, maxPositions: 128 });
 * const tagger = bertPreset({ ...sizes, head: 'token-classification', labels: ['O', 'B-PER', 'I-PER'] });
 */
export function bertPreset(overrides: BertOverrides = {}): BertConfig {
  return resolveBertConfig({ ...bertBase, ...overrides });
}
