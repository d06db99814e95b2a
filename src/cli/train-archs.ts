/**
 * What `lmforge train --arch A` builds and trains, one entry per architecture: the model
 * config from the shape flags and the data's vocabulary, and the objective over the loaded
 * data (next-token prediction for decoders, masked-LM for encoders; sequence-to-sequence for
 * encoder-decoders as that family lands). A new family adds one entry here.
 */
import {
  resolveBertConfig,
  resolveDecoderConfig,
  type FieldNames,
  type ModelConfig,
} from '../models/index.js';
import { ConfigError } from '../util/errors.js';
import type { Tokenizer } from '../tokenizers/index.js';
import {
  CausalLmObjective,
  MaskedLmObjective,
  maskedLmTokens,
  type Objective,
  type TrainOptions,
} from '../train/index.js';

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

/** The token streams `lmforge train` reads (train and validation splits of the data). */
export interface TrainData {
  readonly train: Int32Array;
  readonly val: Int32Array;
  readonly tokenizer: Tokenizer;
}

export interface TrainArch {
  /** One line for `--help`. */
  readonly description: string;
  /**
   * The resolved config for these flags (every bad flag in one ConfigError, its problems in
   * `actual`), with `vocabSize` ids and `blockSize` positions; `tokenizer` (absent while the
   * flags are checked before the data is read) gives the special ids a family records.
   */
  modelConfig(flags: ModelFlags, vocabSize: number, blockSize: number, tokenizer?: Tokenizer): ModelConfig;
  objective(data: TrainData, options: TrainOptions): Objective;
}

/** The decoder shapes `train` builds by default: nanoGPT's small CPU model. */
function decoderArch(arch: 'gpt2' | 'llama' | 'mixtral', description: string): TrainArch {
  return {
    description,
    modelConfig: (flags, vocabSize, blockSize) => {
      if (arch !== 'mixtral') {
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
    objective: (data, options) => {
      if (options.wholeWordMasking) {
        throw new ConfigError('whole-word masking is for masked-LM training', {
          where: '--whole-word-masking',
          hint: 'it applies to --arch bert',
        });
      }
      return new CausalLmObjective({
        train: data.train,
        val: data.val,
        blockSize: options.blockSize,
        batchSize: options.batchSize,
      });
    },
  };
}

/**
 * BERT pre-trained by masked-LM: post-LayerNorm, exact GELU, an intermediate size of 4
 * widths, `--block-size` positions (max_position_embeddings), one dropout rate for hidden
 * states and attention; the tokenizer must have [CLS] [SEP] [MASK] [PAD].
 */
const bertArch: TrainArch = {
  description: 'BERT encoder, masked-LM pre-training (needs a tokenizer with [CLS] [SEP] [MASK] [PAD])',
  modelConfig: (flags, vocabSize, blockSize, tokenizer) =>
    resolveBertConfig(
      {
        head: 'masked-lm',
        vocabSize,
        nLayer: flags.nLayer ?? 4,
        nHead: flags.nHead ?? 4,
        nEmbd: flags.nEmbd ?? 128,
        maxPositions: blockSize,
        dropout: flags.dropout ?? 0,
        attentionDropout: flags.dropout ?? 0,
        padTokenId: tokenizer === undefined ? null : maskedLmTokens(tokenizer, '--tokenizer').pad,
      },
      'model flags',
    ),
  objective: (data, options) =>
    new MaskedLmObjective({
      train: data.train,
      val: data.val,
      blockSize: options.blockSize,
      batchSize: options.batchSize,
      tokens: maskedLmTokens(data.tokenizer, '--tokenizer'),
      masking: { wholeWord: options.wholeWordMasking },
    }),
};

export const trainArchs: Readonly<Record<string, TrainArch>> = {
  gpt2: decoderArch('gpt2', 'GPT-2 decoder (learned positions, LayerNorm, GELU)'),
  llama: decoderArch('llama', 'Llama decoder (RoPE, RMSNorm, SwiGLU)'),
  mixtral: decoderArch('mixtral', 'Llama blocks with sparse mixture-of-experts MLPs'),
  bert: bertArch,
};
