/**
 * What `lmforge train --arch A` builds and trains, one entry per architecture: the model
 * config from the shape flags and the data's vocabulary, and the objective over the loaded
 * data (next-token prediction for decoders; masked-LM for encoders, sequence-to-sequence for
 * encoder-decoders as those families land). A new family adds one entry here.
 */
import {
  resolveDecoderConfig,
  resolveRnnConfig,
  rnnArchOf,
  type ModelConfig,
  type RnnCell,
} from '../models/index.js';
import { ConfigError } from '../util/errors.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { CausalLmObjective, type Objective, type TrainOptions } from '../train/index.js';

/** Model shape flags (absent: each architecture's defaults). */
export interface ModelFlags {
  readonly arch?: string | undefined;
  readonly nLayer?: number | undefined;
  readonly nHead?: number | undefined;
  readonly nEmbd?: number | undefined;
  readonly dropout?: number | undefined;
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
  /** The model_type (config.arch) of the models it builds, when it is not the --arch name itself. */
  readonly modelType?: string;
  /**
   * The resolved config for these flags (every bad flag in one ConfigError, its problems in
   * `actual`), with `vocabSize` ids and `blockSize` positions.
   */
  modelConfig(flags: ModelFlags, vocabSize: number, blockSize: number): ModelConfig;
  objective(data: TrainData, options: TrainOptions): Objective;
}

/** The decoder shapes `train` builds by default: nanoGPT's small CPU model. */
function decoderArch(arch: 'gpt2' | 'llama', description: string): TrainArch {
  return {
    description,
    modelConfig: (flags, vocabSize, blockSize) =>
      resolveDecoderConfig(
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
        },
        'model flags',
      ),
    objective: causalLm,
  };
}

/** Next-token prediction over the data's token streams. */
function causalLm(data: TrainData, options: TrainOptions): Objective {
  return new CausalLmObjective({
    train: data.train,
    val: data.val,
    blockSize: options.blockSize,
    batchSize: options.batchSize,
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
    modelConfig: (flags, vocabSize, blockSize) => {
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

export const trainArchs: Readonly<Record<string, TrainArch>> = {
  gpt2: decoderArch('gpt2', 'GPT-2 decoder (learned positions, LayerNorm, GELU)'),
  llama: decoderArch('llama', 'Llama decoder (RoPE, RMSNorm, SwiGLU)'),
  lstm: recurrentArch('lstm', 'LSTM language model (PyTorch nn.LSTM, tied head; 2 layers of 256 by default)'),
  gru: recurrentArch('gru', 'GRU language model (PyTorch nn.GRU, tied head; 2 layers of 256 by default)'),
};

/** The --arch name of a model_type ('lmforge-lstm' -> 'lstm'); a decoder's is its model_type. */
export function archName(modelType: string): string {
  return Object.entries(trainArchs).find(([, arch]) => arch.modelType === modelType)?.[0] ?? modelType;
}
