/**
 * MarianConfig: the encoder-decoder transformer of "Attention Is All You Need" (Vaswani et
 * al., 2017) in Hugging Face MarianMTModel's shape. Raw input (user options, a converted
 * config.json: see hf.ts) is resolved once into a readonly, fully specified object; every
 * bad field is reported in one ConfigError, under its config.json key when converted.
 *
 * lmforge's defaults (marianPreset, `train --arch marian`) are the paper's choices: post-norm,
 * ReLU, sinusoidal positions, embeddings scaled by sqrt(d_model) and shared between source,
 * target and output. A config.json that leaves a field out takes HF MarianConfig's default
 * instead (hf.ts), since that is what transformers would build from it.
 */
import type { Activation } from '../../nn/index.js';
import { FieldReader, type RawFields } from '../../util/config-fields.js';
import type { NormPlacement } from '../blocks/transformer-block.js';
import { dimensionLimits } from '../decoder/config.js';

/** Where the positions come from: the fixed Marian sinusoid (not saved), or a learned table (saved). */
export type MarianPositions = 'sinusoidal' | 'learned';

export interface MarianConfig {
  readonly arch: 'marian';
  /** Source vocabulary (the shared one when shareEmbeddings). */
  readonly vocabSize: number;
  /** Target (output) vocabulary: vocabSize when shareEmbeddings. */
  readonly decoderVocabSize: number;
  readonly dModel: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  readonly encoderHeads: number;
  readonly decoderHeads: number;
  readonly encoderFfnDim: number;
  readonly decoderFfnDim: number;
  readonly activation: Activation;
  /** Positions of the encoder and of the decoder (max_position_embeddings). */
  readonly maxPositions: number;
  readonly positions: MarianPositions;
  /** 'post' (the paper, Marian): x = norm(x + f(x)); 'pre' adds a final norm to each stack (mBART). */
  readonly normPlacement: NormPlacement;
  /** Multiply token embeddings by sqrt(dModel) (the paper, sec. 3.4). */
  readonly scaleEmbedding: boolean;
  /** One embedding for source and target (model.shared). */
  readonly shareEmbeddings: boolean;
  /** The output head is the decoder's token embedding. */
  readonly tieWordEmbeddings: boolean;
  readonly padTokenId: number;
  readonly eosTokenId: number;
  /** The decoder's first input (Marian: the pad id). */
  readonly decoderStartTokenId: number;
  /** The id forced at the last position when decoding stops by length; null for none. */
  readonly forcedEosTokenId: number | null;
  /** Dropout on embeddings and residual branches (training only). */
  readonly dropout: number;
  /** Dropout on attention probabilities. */
  readonly attentionDropout: number;
  /** Dropout on the feed-forward's hidden activation. */
  readonly activationDropout: number;
  /**
   * Std of the normal initialisation of every matrix and embedding (HF init_std). lmforge's
   * default is dModel^-0.5 (fairseq's transformer embeddings; Xavier's std for a square
   * matrix), so that scaled token embeddings start at unit variance beside the sinusoid; HF's
   * default 0.02 leaves a small model's tokens at a tenth of the positions' magnitude.
   */
  readonly initStd: number;
}

/** LayerNorm epsilon: MarianConfig has no field for it; nn.LayerNorm's default. */
export const marianNormEps = 1e-5;

/** Raw settings (camelCase fields of MarianConfig, absent ones defaulted). */
export type RawMarianConfig = RawFields;

/** The config.json key (or flag) of each field, for naming fields in errors. */
export type MarianFieldNames = Readonly<Partial<Record<keyof MarianConfig, string>>>;

/** The defaults of lmforge-built models (marianPreset): the base model of the paper, smaller. */
export const marianDefaults: Omit<
  MarianConfig,
  'arch' | 'decoderVocabSize' | 'decoderStartTokenId' | 'encoderFfnDim' | 'decoderFfnDim' | 'initStd'
> = {
  vocabSize: 512,
  dModel: 128,
  encoderLayers: 2,
  decoderLayers: 2,
  encoderHeads: 4,
  decoderHeads: 4,
  activation: 'relu',
  maxPositions: 128,
  positions: 'sinusoidal',
  normPlacement: 'post',
  scaleEmbedding: true,
  shareEmbeddings: true,
  tieWordEmbeddings: true,
  padTokenId: 0,
  eosTokenId: 1,
  forcedEosTokenId: null,
  dropout: 0.1,
  attentionDropout: 0,
  activationDropout: 0,
};

/** Every field a raw config may give; its type makes it list each field exactly once. */
const knownFields: Readonly<Record<keyof MarianConfig, true>> = {
  arch: true,
  vocabSize: true,
  decoderVocabSize: true,
  dModel: true,
  encoderLayers: true,
  decoderLayers: true,
  encoderHeads: true,
  decoderHeads: true,
  encoderFfnDim: true,
  decoderFfnDim: true,
  activation: true,
  maxPositions: true,
  positions: true,
  normPlacement: true,
  scaleEmbedding: true,
  shareEmbeddings: true,
  tieWordEmbeddings: true,
  padTokenId: true,
  eosTokenId: true,
  decoderStartTokenId: true,
  forcedEosTokenId: true,
  dropout: true,
  attentionDropout: true,
  activationDropout: true,
  initStd: true,
};

const activations: readonly Activation[] = ['relu', 'gelu', 'geluTanh', 'silu'];

/**
 * Resolves raw settings into a MarianConfig; absent fields take marianDefaults (the FFN
 * widths 4 dModel, the decoder vocabulary the source's, the decoder start the pad id, initStd
 * dModel^-0.5).
 * Every invalid field is listed in one ConfigError, named as `fieldNames` says.
 *
 * @example
 * const config = resolveMarianConfig({ vocabSize: 60, dModel: 32, encoderLayers: 2, decoderLayers: 2 });
 */
export function resolveMarianConfig(
  raw: RawMarianConfig,
  where = 'MarianConfig',
  fieldNames: MarianFieldNames = {},
): MarianConfig {
  const label = (key: string): string => fieldNames[key as keyof MarianConfig] ?? key;
  const read = new FieldReader(raw, label);
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(knownFields, key)) read.problem(key, 'unknown field');
  }
  if (raw['arch'] !== undefined && raw['arch'] !== 'marian') read.bad('arch', "'marian'");
  const d = marianDefaults;
  const dim = (key: keyof MarianConfig, fallback: number | undefined, limit: number): number =>
    read.integer(key, fallback, 1, limit);
  const vocabSize = dim('vocabSize', d.vocabSize, dimensionLimits.vocabSize);
  const shareEmbeddings = read.flag('shareEmbeddings', d.shareEmbeddings);
  const decoderVocabSize = dim('decoderVocabSize', vocabSize, dimensionLimits.vocabSize);
  const dModel = dim('dModel', d.dModel, dimensionLimits.nEmbd);
  const encoderLayers = dim('encoderLayers', d.encoderLayers, dimensionLimits.nLayer);
  const decoderLayers = dim('decoderLayers', d.decoderLayers, dimensionLimits.nLayer);
  const encoderHeads = dim('encoderHeads', d.encoderHeads, dimensionLimits.nHead);
  const decoderHeads = dim('decoderHeads', d.decoderHeads, dimensionLimits.nHead);
  const ffn = Number.isNaN(dModel) ? 1 : 4 * dModel;
  const encoderFfnDim = dim('encoderFfnDim', ffn, dimensionLimits.intermediateSize);
  const decoderFfnDim = dim('decoderFfnDim', ffn, dimensionLimits.intermediateSize);
  const maxPositions = dim('maxPositions', d.maxPositions, dimensionLimits.blockSize);
  const activation = read.oneOf('activation', d.activation, activations);
  const positions = read.oneOf<MarianPositions>('positions', d.positions, ['sinusoidal', 'learned']);
  const normPlacement = read.oneOf<NormPlacement>('normPlacement', d.normPlacement, ['post', 'pre']);
  const scaleEmbedding = read.flag('scaleEmbedding', d.scaleEmbedding);
  const tieWordEmbeddings = read.flag('tieWordEmbeddings', d.tieWordEmbeddings);
  const rate = (key: keyof MarianConfig, fallback: number): number =>
    read.real(key, fallback, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const dropout = rate('dropout', d.dropout);
  const attentionDropout = rate('attentionDropout', d.attentionDropout);
  const activationDropout = rate('activationDropout', d.activationDropout);
  const initStd = read.real('initStd', Number.isNaN(dModel) ? 1 : 1 / Math.sqrt(dModel), (v) => v > 0, '> 0');

  // Token ids must be rows of the vocabulary they index: the source/shared one for pad
  // (the embedding's padding row), the target one for what the decoder reads and writes.
  const targetVocab = Number.isNaN(decoderVocabSize) ? dimensionLimits.vocabSize : decoderVocabSize;
  const sourceVocab = Number.isNaN(vocabSize) ? dimensionLimits.vocabSize : vocabSize;
  const id = (key: keyof MarianConfig, fallback: number, vocab: number): number =>
    read.integer(key, fallback, 0, vocab - 1);
  const padTokenId = id('padTokenId', d.padTokenId, Math.min(sourceVocab, targetVocab));
  const eosTokenId = id('eosTokenId', d.eosTokenId, targetVocab);
  const decoderStartTokenId = id(
    'decoderStartTokenId',
    Number.isNaN(padTokenId) ? 0 : padTokenId,
    targetVocab,
  );
  const forcedEosTokenId = read.integerOrNull('forcedEosTokenId', d.forcedEosTokenId, 0, targetVocab - 1);

  if (shareEmbeddings && Number.isInteger(vocabSize) && decoderVocabSize !== vocabSize) {
    read.problem(
      'decoderVocabSize',
      `must equal ${label('vocabSize')} ${vocabSize} when source and target share one embedding (${label('shareEmbeddings')}), got ${decoderVocabSize}`,
    );
  }
  for (const [headsKey, heads] of [
    ['encoderHeads', encoderHeads],
    ['decoderHeads', decoderHeads],
  ] as const) {
    if (Number.isInteger(dModel) && Number.isInteger(heads) && dModel % heads !== 0) {
      read.problem('dModel', `${dModel} is not divisible by ${label(headsKey)} ${heads}`);
    }
  }
  read.throwIfAny(where);
  return Object.freeze({
    arch: 'marian',
    vocabSize,
    decoderVocabSize,
    dModel,
    encoderLayers,
    decoderLayers,
    encoderHeads,
    decoderHeads,
    encoderFfnDim,
    decoderFfnDim,
    activation,
    maxPositions,
    positions,
    normPlacement,
    scaleEmbedding,
    shareEmbeddings,
    tieWordEmbeddings,
    padTokenId,
    eosTokenId,
    decoderStartTokenId,
    forcedEosTokenId,
    dropout,
    attentionDropout,
    activationDropout,
    initStd,
  });
}

/**
 * A Marian config from lmforge's defaults and the given fields.
 *
 * @example
 * const config = marianPreset({ vocabSize: 60, dModel: 32, encoderHeads: 4, decoderHeads: 4, maxPositions: 32 });
 */
export function marianPreset(overrides: Partial<Omit<MarianConfig, 'arch'>> = {}): MarianConfig {
  return resolveMarianConfig({ ...overrides, arch: 'marian' });
}
