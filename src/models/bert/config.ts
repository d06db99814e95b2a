/**
 * BertConfig: the resolved configuration of the BERT family (Devlin et al., 2018; HF's
 * BertConfig), one object for the body and whichever head the model has. Raw input (typed
 * options, or a config.json mapped by ./hf.ts) is resolved once into a readonly, fully
 * specified object; every bad field is reported in one ConfigError, each under its
 * config.json key when the input came from one.
 */
import type { NormPlacement } from '../blocks/transformer-block.js';
import { dimensionLimits } from '../decoder/config.js';
import { readClassLabels, type ClassLabels } from '../heads/labels.js';
import { FieldReader } from '../../util/fields.js';
import { jsonText } from '../../util/preview.js';

/**
 * Which HF class the model is, and so its head and checkpoint keys:
 * - 'masked-lm': BertForMaskedLM (`bert.*` without the pooler, `cls.predictions.*`);
 * - 'sequence-classification': BertForSequenceClassification (`bert.*` with the pooler, `classifier.*`);
 * - 'token-classification': BertForTokenClassification (`bert.*` without the pooler, `classifier.*`);
 * - 'none': BertModel, the bare body with its pooler (keys without the `bert.` prefix).
 */
export type BertHead = 'masked-lm' | 'sequence-classification' | 'token-classification' | 'none';

/** HF's hidden_act: 'gelu' (exact erf), 'gelu_new' / 'gelu_pytorch_tanh' (tanh approximation), 'relu'. */
export type BertActivation = 'gelu' | 'geluTanh' | 'relu';

export interface BertConfig {
  readonly arch: 'bert';
  readonly head: BertHead;
  readonly vocabSize: number;
  /** hidden_size */
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  /** nEmbd / nHead. */
  readonly headSize: number;
  readonly intermediateSize: number;
  readonly activation: BertActivation;
  /** hidden_dropout_prob: embeddings and residual branches (training only). */
  readonly dropout: number;
  /** attention_probs_dropout_prob. */
  readonly attentionDropout: number;
  /** classifier_dropout before a classification head; null: `dropout`, as HF. */
  readonly classifierDropout: number | null;
  /** max_position_embeddings: the rows of the (absolute, learned) position table. */
  readonly maxPositions: number;
  /** type_vocab_size: segments of the token-type embedding. */
  readonly typeVocabSize: number;
  /** layer_norm_eps */
  readonly normEps: number;
  /** The padding id (its embedding row starts at zero, as HF's padding_idx); null: none. */
  readonly padTokenId: number | null;
  /**
   * 'post' (BERT): x = LayerNorm(x + f(x)). 'pre': x += f(LayerNorm(x)), with a final
   * LayerNorm after the last block (lmforge-only: config.json's lmforge_norm_placement).
   */
  readonly placement: NormPlacement;
  /** initializer_range: std of the normal initialisation. */
  readonly initStd: number;
  /** The classes of a classification head (id2label); null for 'masked-lm' and 'none'. */
  readonly labels: ClassLabels | null;
}

/** Raw, unvalidated input (typed options, a mapped config.json): resolveBertConfig checks it. */
export type RawBertConfig = Readonly<Record<string, unknown>>;

/** A raw config's fields: BertConfig's, with `labels` as names and `problemType` beside them. */
export type BertField = Exclude<keyof BertConfig, 'labels'> | 'labels' | 'problemType';

/** The config.json key of each field, for naming fields in errors (./hf.ts). */
export type BertFieldNames = Readonly<Partial<Record<BertField, string>>>;

const knownFields: Readonly<Record<BertField, true>> = {
  arch: true,
  head: true,
  vocabSize: true,
  nEmbd: true,
  nLayer: true,
  nHead: true,
  headSize: true,
  intermediateSize: true,
  activation: true,
  dropout: true,
  attentionDropout: true,
  classifierDropout: true,
  maxPositions: true,
  typeVocabSize: true,
  normEps: true,
  padTokenId: true,
  placement: true,
  initStd: true,
  labels: true,
  problemType: true,
};

/** Heads that classify, and so have labels. */
export function headHasLabels(head: BertHead): boolean {
  return head === 'sequence-classification' || head === 'token-classification';
}

/** Heads whose body has the pooler (HF's add_pooling_layer). */
export function headHasPooler(head: BertHead): boolean {
  return head === 'sequence-classification' || head === 'none';
}

/** Most segment types (far above BERT's 2). */
const maxTypeVocabSize = 2 ** 12;

/**
 * Resolves raw settings into a BertConfig. Defaults are bert-base-uncased's except the
 * sizes, which must be given (vocabSize, nEmbd, nLayer, nHead; intermediateSize defaults
 * to 4 nEmbd); `head` defaults to 'masked-lm'. Every bad field is listed in one
 * ConfigError, under its name in `fieldNames` (config.json keys), together with the
 * `problems` a mapping found before.
 *
 * @example
 * const config = resolveBertConfig({ vocabSize: 1000, nEmbd: 128, nLayer: 4, nHead: 4, maxPositions: 128 });
 * const tagger = resolveBertConfig({ ...config, head: 'token-classification', labels: ['O', 'B-PER', 'I-PER'] });
 */
export function resolveBertConfig(
  input: RawBertConfig | BertConfig,
  where = 'BertConfig',
  fieldNames: BertFieldNames = {},
  problems: string[] = [],
): BertConfig {
  // A resolved config is raw input too (it resolves to itself): swap a head by spreading one.
  const raw = input as RawBertConfig;
  const fields = new FieldReader<BertField>(raw, (key) => fieldNames[key] ?? key, problems);
  fields.rejectUnknown(Object.keys(knownFields));
  if (raw['arch'] !== undefined && raw['arch'] !== 'bert') {
    fields.problem('arch', `expected 'bert', got ${jsonText(raw['arch'])}`);
  }
  const head = fields.oneOf<BertHead>('head', 'masked-lm', [
    'masked-lm',
    'sequence-classification',
    'token-classification',
    'none',
  ]);
  const limit = dimensionLimits;
  const vocabSize = fields.int('vocabSize', undefined, 1, limit.vocabSize);
  const nEmbd = fields.int('nEmbd', undefined, 1, limit.nEmbd);
  const nLayer = fields.int('nLayer', undefined, 1, limit.nLayer);
  const nHead = fields.int('nHead', undefined, 1, limit.nHead);
  const intermediateSize = fields.int(
    'intermediateSize',
    Number.isNaN(nEmbd) ? undefined : 4 * nEmbd,
    1,
    limit.intermediateSize,
  );
  const activation = fields.oneOf<BertActivation>('activation', 'gelu', ['gelu', 'geluTanh', 'relu']);
  const probability = (key: BertField, fallback: number): number =>
    fields.real(key, fallback, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const dropout = probability('dropout', 0.1);
  const attentionDropout = probability('attentionDropout', dropout);
  const classifierDropout =
    fields.value('classifierDropout', null) === null ? null : probability('classifierDropout', 0);
  const maxPositions = fields.int('maxPositions', 512, 1, limit.blockSize);
  const typeVocabSize = fields.int('typeVocabSize', 2, 1, maxTypeVocabSize);
  const normEps = fields.real('normEps', 1e-12, (v) => v > 0, '> 0');
  const padTokenId =
    fields.value('padTokenId', null) === null
      ? null
      : fields.int('padTokenId', 0, 0, Number.isNaN(vocabSize) ? limit.vocabSize : vocabSize - 1);
  const placement = fields.oneOf<NormPlacement>('placement', 'post', ['post', 'pre']);
  const initStd = fields.real('initStd', 0.02, (v) => v > 0, '> 0');
  const labels = headHasLabels(head) ? readClassLabels(fields) : null;
  if (!headHasLabels(head)) {
    for (const key of ['labels', 'problemType'] as const) {
      if (fields.value(key, null) !== null)
        fields.problem(key, `a ${head} model has no classification labels`);
    }
  }

  const headSize = nEmbd / nHead;
  if (Number.isFinite(headSize) && !Number.isInteger(headSize)) {
    fields.problem('nEmbd', `${nEmbd} is not divisible by ${fields.label('nHead')} ${nHead}`);
  }
  if (raw['headSize'] !== undefined && raw['headSize'] !== headSize) {
    fields.problem('headSize', `derived as nEmbd / nHead = ${headSize}, got ${jsonText(raw['headSize'])}`);
  }
  fields.throwIfAny(where);
  return Object.freeze({
    arch: 'bert',
    head,
    vocabSize,
    nEmbd,
    nLayer,
    nHead,
    headSize,
    intermediateSize,
    activation,
    dropout,
    attentionDropout,
    classifierDropout,
    maxPositions,
    typeVocabSize,
    normEps,
    padTokenId,
    placement,
    initStd,
    labels,
  });
}
