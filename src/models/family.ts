/**
 * What a model family provides to the registry (registry.ts): its HF config mapping, how
 * to build a model, and its parameter plan (for checking a checkpoint's header and the
 * model's size before anything is allocated). Each family implements this in its folder.
 */
import type { LanguageModel, ModelConfig } from './model.js';
import type { ModelSize } from './size.js';

/** How a new model fills its parameters: 'random' (the family's init) or 'empty' (zeros, about to be loaded). */
export type ModelInit = 'random' | 'empty';

/** The shape of a model for `lmforge info`: what every transformer family can state. */
export interface ArchitectureSummary {
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly width: number;
  readonly mlp: { readonly kind: string; readonly intermediateSize: number };
  readonly context: number;
  readonly vocabSize: number;
  readonly positions: string;
  readonly norm: string;
  readonly tiedEmbeddings: boolean;
  /** Attention details a family may add (decoders: Llama 3, Mistral, Qwen). */
  readonly attention?: {
    readonly headSize: number;
    /** Which projections have a bias: 'all', 'qkv' or 'none'. */
    readonly bias: string;
    readonly qkNorm: boolean;
    /** The sliding window and the layers that use it; null for none. */
    readonly slidingWindow: { readonly size: number; readonly layers: readonly number[] } | null;
  };
  readonly mlpBias?: boolean;
  /** RoPE's theta and frequency scaling (kind and its parameters), for rotary positions. */
  readonly rope?: { readonly theta: number; readonly scaling: Readonly<Record<string, string | number>> };
  /**
   * Encoder-decoder families: the encoder's stack (the fields above describe the decoder,
   * which generates); absent for decoder-only and encoder-only families.
   */
  readonly encoder?: {
    readonly layers: number;
    readonly heads: number;
    readonly intermediateSize: number;
    /** Source vocabulary. */
    readonly vocabSize: number;
    /** Source and target share one embedding. */
    readonly sharedEmbeddings: boolean;
  };
  /** Families with expert layers: their settings, and the parameters one token runs through. */
  readonly moe?: {
    readonly experts: number;
    readonly expertsPerToken: number;
    readonly sharedExperts: number;
    readonly routing: string;
    readonly capacityFactor: number | null;
    readonly auxLossCoef: number;
    readonly zLossCoef: number;
    readonly jitter: number;
    readonly activeParameters: number;
  };
  /** The HF class the config names (`architectures`: BertForMaskedLM, GPT2ForSequenceClassification ...). */
  readonly architecture?: string;
  /** A classification head's class names (id2label). */
  readonly labels?: readonly string[];
}

/**
 * One model family. `fromHf` validates a config.json object (every bad field named by its
 * config.json key, in one ConfigError); `toHf` is its inverse (fromHf(toHf(c)) equals c).
 */
export interface ModelFamily<Config extends ModelConfig = ModelConfig> {
  /** HF `model_type`, and `config.arch` of every config this family resolves. */
  readonly modelType: string;
  fromHf(json: Readonly<Record<string, unknown>>, where: string): Config;
  toHf(config: Config): Record<string, unknown>;
  /** A model for `config`; `createModel` has checked that it fits in memory. */
  create(config: Config, options: { readonly init: ModelInit; readonly seed: number }): LanguageModel<Config>;
  /** Every parameter path (= checkpoint key) with its shape, in namedParameters() order. */
  parameterShapes(config: Config): Map<string, readonly number[]>;
  /**
   * The persistent buffers (saved with the weights, never trained: Marian's
   * final_logits_bias) by path with their shapes. A checkpoint may leave them out (they keep
   * their initial value, as HF's _keys_to_ignore_on_load_missing); absent: none.
   */
  bufferShapes?(config: Config): Map<string, readonly number[]>;
  /**
   * Parameter (and persistent buffer) path -> key in a checkpoint holding `stored` keys
   * (derived buffers and tied copies dropped).
   */
  checkpointKeys(config: Config, stored: readonly string[]): Map<string, string>;
  size(config: Config): ModelSize;
  describe(config: Config): ArchitectureSummary;
}
