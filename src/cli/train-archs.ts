/**
/**
 * What `lmforge train --arch A` builds and trains, one entry per architecture: what data it
 * reads (a token stream, or sentence pairs), the model config from the shape flags and the
 * data's vocabulary, the objective over the loaded data (next-token prediction for decoders,
 * masked-LM for encoders, sequence-to-sequence for encoder-decoders), and the
 * generation_config.json its checkpoints carry. A new family adds one entry here.
 */
import {
  isEncoderDecoder,
  resolveBertConfig,
  resolveDecoderConfig,
  resolveMarianConfig,
  resolveRnnConfig,
  rnnArchOf,
  type FieldNames,
  type LanguageModel,
  type MarianFieldNames,
  type ModelConfig,
  type RnnCell,
} from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import {
  defaultTranslationConfig,
  resolveTranslationConfig,
  translationConfigToHf,
} from '../generate/index.js';
import {
  CausalLmObjective,
  MaskedLmObjective,
  maskedLmTokens,
  Seq2seqObjective,
  type DataSource,
  type EncodedPair,
  type Objective,
  type TrainOptions,
} from '../train/index.js';
import { ConfigError } from '../util/errors.js';

/** Model shape flags (absent: each architecture's defaults). */
export interface ModelFlags {
  readonly arch?: string | undefined;
  readonly nLayer?: number | undefined;
  readonly nHead?: number | undefined;
  readonly nEmbd?: number | undefined;
  readonly dropout?: number | undefined;
  /** Expert settings (--arch mixtral only). */
  readonly nExperts?: number | undefined;
  readonly expertsPerToken?: number | undefined;
  readonly auxLossCoef?: number | undefined;
  readonly routerZLoss?: number | undefined;
  readonly capacityFactor?: number | undefined;
}

/** The expert flags and the DecoderConfig.moe field each sets. */
export const moeFlags = {
  nExperts: 'experts',
  expertsPerToken: 'expertsPerToken',
  auxLossCoef: 'auxLossCoef',
  routerZLoss: 'zLossCoef',
  capacityFactor: 'capacityFactor',
} as const;

const flagOf = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Errors name the flag, not the config field. */
const moeFlagNames: FieldNames = Object.fromEntries(
  Object.entries(moeFlags).map(([flag, field]) => [`moe.${field}`, flagOf(flag)]),
);

/** The expert settings the flags give (absent ones take the preset's defaults). */
function moeSettings(flags: ModelFlags): Record<string, number> {
  const settings: Record<string, number> = {};
  for (const [flag, field] of Object.entries(moeFlags)) {
    const value = flags[flag as keyof typeof moeFlags];
    if (value !== undefined) settings[field] = value;
  }
  return settings;
}

/** Refuses the expert flags for an architecture without experts. */
function rejectExpertFlags(flags: ModelFlags, arch: string): void {
  const given = (Object.keys(moeFlags) as Array<keyof typeof moeFlags>).filter(
    (flag) => flags[flag] !== undefined,
  );
  if (given.length > 0) {
    throw new ConfigError('expert flags need --arch mixtral', {
      where: 'model flags',
      actual: given
        .map((flag) => `${flagOf(flag)}: experts need --arch mixtral, got --arch ${arch}`)
        .join('; '),
    });
  }
}

/** The token streams a decoder trains on (train and validation splits of the text). */
export interface TokenData {
  readonly kind: 'tokens';
  readonly train: Int32Array;
  readonly val: Int32Array;
  readonly tokenizer: Tokenizer;
}

/** The sentence pairs an encoder-decoder trains on, encoded with the joint tokenizer (EOS last). */
export interface PairData {
  readonly kind: 'pairs';
  readonly train: readonly EncodedPair[];
  readonly val: readonly EncodedPair[];
  /** The validation target texts, in order (the references of val_bleu and val_chrf). */
  readonly valTargets: readonly string[];
  readonly tokenizer: Tokenizer;
  readonly padTokenId: number;
  readonly eosTokenId: number;
}

export type TrainData = TokenData | PairData;

export interface TrainArch {
  /** One line for `--help`. */
  readonly description: string;
  /** What the architecture trains on: --data text, or --pairs / a built-in task. */
  readonly data: TrainData['kind'];
  /** The data of a run that names none: the built-in corpus, or a built-in WordNet task. */
  readonly defaultSource: DataSource;
  /** The model_type (config.arch) of the models it builds, when it is not the --arch name itself. */
  readonly modelType?: string;
  /**
   * The resolved config for these flags (every bad flag in one ConfigError, its problems in
   * `actual`), with `vocabSize` ids and `blockSize` positions; `data` (absent while the
   * flags are checked before the data is read) gives the special ids a family records.
   */
  modelConfig(flags: ModelFlags, vocabSize: number, blockSize: number, data?: TrainData): ModelConfig;
  objective(data: TrainData, options: TrainOptions): Objective;
  /** The generation_config.json of its checkpoints (HF names); absent: the trainer's default. */
  generationConfig?(model: LanguageModel): Record<string, unknown>;
}

/** The token streams of `data` (a ConfigError when the run reads sentence pairs). */
export function tokenData(data: TrainData): TokenData {
  return dataOf(data, 'tokens');
}

function dataOf<K extends TrainData['kind']>(data: TrainData, kind: K): Extract<TrainData, { kind: K }> {
  if (data.kind !== kind) {
    throw new ConfigError('the data does not fit the architecture', {
      where: 'train --arch',
      expected: kind === 'pairs' ? 'sentence pairs (--pairs, --task)' : 'text (--data)',
      actual: data.kind,
    });
  }
  return data as Extract<TrainData, { kind: K }>;
}

/** The decoder shapes `train` builds by default: nanoGPT's small CPU model. */
function decoderArch(arch: 'gpt2' | 'llama' | 'mixtral', description: string): TrainArch {
  return {
    description,
    data: 'tokens',
    defaultSource: { kind: 'builtin' },
    modelConfig: (flags, vocabSize, blockSize) => {
      if (arch !== 'mixtral') rejectExpertFlags(flags, arch);
      return resolveDecoderConfig(
        {
          arch,
          vocabSize,
          nLayer: flags.nLayer ?? 4,
          nHead: flags.nHead ?? 4,
          nEmbd: flags.nEmbd ?? 128,
          blockSize,
          dropout: flags.dropout ?? 0,
          // nanoGPT's recommendation for small models: no biases (faster, as good).
          bias: false,
          // nanoGPT's MLP uses exact GELU (nn.GELU()), not GPT-2's tanh approximation.
          ...(arch === 'gpt2' ? { activation: 'gelu' as const } : {}),
          ...(arch === 'mixtral' ? { moe: moeSettings(flags) } : {}),
        },
        'model flags',
        moeFlagNames,
      );
    },
    objective: causalLm,
  };
}

/** Next-token prediction over the data's token streams. */
function causalLm(data: TrainData, options: TrainOptions): Objective {
  if (options.wholeWordMasking) {
    throw new ConfigError('whole-word masking is for masked-LM training', {
      where: '--whole-word-masking',
      hint: 'it applies to --arch bert',
    });
  }
  const { train, val } = dataOf(data, 'tokens');
  return new CausalLmObjective({
    train,
    val,
    blockSize: options.blockSize,
    batchSize: options.batchSize,
    labelSmoothing: options.labelSmoothing,
  });
}

/**
 * An LSTM or GRU language model (2 layers, 256 wide unless --n-layer / --n-embd say), trained
 * by next-token prediction like the decoders. It reads no positions, so it runs on contexts
 * up to 1024 (or --block-size when longer) after training on blocks of --block-size.
 */
function recurrentArch(cell: RnnCell, description: string): TrainArch {
  return {
    description,
    modelType: rnnArchOf[cell],
    data: 'tokens',
    defaultSource: { kind: 'builtin' },
    modelConfig: (flags, vocabSize, blockSize) => {
      rejectExpertFlags(flags, cell);
      if (flags.nHead !== undefined) {
        throw new ConfigError('invalid flags', {
          where: 'model flags',
          actual: `--n-head: a recurrent model has no attention heads, got ${flags.nHead}`,
        });
      }
      return resolveRnnConfig(
        {
          arch: rnnArchOf[cell],
          vocabSize,
          nLayer: flags.nLayer ?? 2,
          nEmbd: flags.nEmbd ?? 256,
          dropout: flags.dropout ?? 0,
          maxPositions: Math.max(blockSize, 1024),
        },
        'model flags',
      );
    },
    objective: causalLm,
  };
}

/**
 * BERT pre-trained by masked-LM: post-LayerNorm, exact GELU, an intermediate size of 4
 * widths, `--block-size` positions (max_position_embeddings), one dropout rate for hidden
 * states and attention; the tokenizer must have [CLS] [SEP] [MASK] [PAD].
 */
const bertArch: TrainArch = {
  description: 'BERT encoder, masked-LM pre-training (needs a tokenizer with [CLS] [SEP] [MASK] [PAD])',
  data: 'tokens',
  defaultSource: { kind: 'builtin' },
  modelConfig: (flags, vocabSize, blockSize, data) => {
    rejectExpertFlags(flags, 'bert');
    return resolveBertConfig(
      {
        head: 'masked-lm',
        vocabSize,
        nLayer: flags.nLayer ?? 4,
        nHead: flags.nHead ?? 4,
        nEmbd: flags.nEmbd ?? 128,
        maxPositions: blockSize,
        dropout: flags.dropout ?? 0,
        attentionDropout: flags.dropout ?? 0,
        padTokenId: data === undefined ? null : maskedLmTokens(data.tokenizer, '--tokenizer').pad,
      },
      'model flags',
    );
  },
  objective: (data, options) => {
    const { train, val, tokenizer } = dataOf(data, 'tokens');
    return new MaskedLmObjective({
      train,
      val,
      blockSize: options.blockSize,
      batchSize: options.batchSize,
      tokens: maskedLmTokens(tokenizer, '--tokenizer'),
      masking: { wholeWord: options.wholeWordMasking },
    });
  },
};

/** The flags that set each Marian field, for naming them in errors. */
const marianFlagNames: MarianFieldNames = {
  dModel: '--n-embd',
  encoderLayers: '--n-layer',
  decoderLayers: '--n-layer',
  encoderHeads: '--n-head',
  decoderHeads: '--n-head',
  maxPositions: '--block-size',
  dropout: '--dropout',
  vocabSize: 'the tokenizer vocabulary',
  padTokenId: "the tokenizer's <pad>",
  eosTokenId: "the tokenizer's </s>",
};

/**
 * Marian: `--n-layer N` is N encoder and N decoder layers, `--n-head` both stacks' heads,
 * `--n-embd` d_model, `--block-size` max_position_embeddings; the paper's post-norm, ReLU,
 * sinusoid, shared and tied embeddings and dropout 0.1; pad (= the decoder start) and EOS
 * from the tokenizer. Its checkpoints decode with 4 beams, as Helsinki-NLP's Marian models.
 */
const marianArch: TrainArch = {
  description: 'Marian encoder-decoder (translation: post-norm, ReLU, sinusoidal positions, dropout 0.1)',
  data: 'pairs',
  defaultSource: { kind: 'wordnet-pairs', task: 'reverse-dictionary' },
  modelConfig: (flags, vocabSize, blockSize, data) => {
    rejectExpertFlags(flags, 'marian');
    // Stand-ins while the flags are checked before the data is read.
    const ids = data?.kind === 'pairs' ? data : { padTokenId: 0, eosTokenId: 0 };
    const layers = flags.nLayer ?? 4;
    const heads = flags.nHead ?? 4;
    return resolveMarianConfig(
      {
        vocabSize,
        dModel: flags.nEmbd ?? 128,
        encoderLayers: layers,
        decoderLayers: layers,
        encoderHeads: heads,
        decoderHeads: heads,
        maxPositions: blockSize,
        dropout: flags.dropout ?? 0.1,
        padTokenId: ids.padTokenId,
        eosTokenId: ids.eosTokenId,
        decoderStartTokenId: ids.padTokenId,
      },
      'model flags',
      marianFlagNames,
    );
  },
  objective: (data, options) => {
    const pairs = dataOf(data, 'pairs');
    return new Seq2seqObjective({
      train: pairs.train,
      val: pairs.val,
      valTargets: pairs.valTargets,
      batching: { kind: 'sentences', size: options.batchSize },
      padTokenId: pairs.padTokenId,
      decoderStartTokenId: pairs.padTokenId,
      eosTokenId: pairs.eosTokenId,
      labelSmoothing: options.labelSmoothing,
      detokenize: (ids) => pairs.tokenizer.decode([...ids], { skipSpecialTokens: true }),
    });
  },
  generationConfig: (model) => {
    if (!isEncoderDecoder(model))
      throw new ConfigError('not an encoder-decoder', { where: 'marian', actual: model.kind });
    const config = resolveTranslationConfig({
      ...defaultTranslationConfig(model),
      numBeams: 4,
      maxNewTokens: model.maxPositions - 1,
      badWordsIds: [[model.padTokenId]],
    });
    return translationConfigToHf(config);
  },
};

export const trainArchs: Readonly<Record<string, TrainArch>> = {
  gpt2: decoderArch('gpt2', 'GPT-2 decoder (learned positions, LayerNorm, GELU)'),
  llama: decoderArch('llama', 'Llama decoder (RoPE, RMSNorm, SwiGLU)'),
  mixtral: decoderArch('mixtral', 'Llama blocks with sparse mixture-of-experts MLPs'),
  bert: bertArch,
  marian: marianArch,
  lstm: recurrentArch('lstm', 'LSTM language model (PyTorch nn.LSTM, tied head; 2 layers of 256 by default)'),
  gru: recurrentArch('gru', 'GRU language model (PyTorch nn.GRU, tied head; 2 layers of 256 by default)'),
};

/** The --arch name of a model_type ('lmforge-lstm' -> 'lstm'); a decoder's is its model_type. */
export function archName(modelType: string): string {
  return Object.entries(trainArchs).find(([, arch]) => arch.modelType === modelType)?.[0] ?? modelType;
}
