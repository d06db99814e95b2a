/**
 * The model contract: what generate, train, checkpoint folders (and later the server and
 * the studio) code against, whatever the family. A family (decoder-only GPT-2 / Llama
 * today; encoders, encoder-decoders, MoE later) implements LanguageModel and registers a
 * ModelFamily (registry.ts); no caller reads a family's config fields.
 *
 * One call is `forward(inputs, outputs)`: the inputs say what the model sees (ids, which
 * keys each query may attend, positions, token types, a cache to continue, an encoder's
 * output or the source an encoder-decoder encodes first), the output options say what to
 * compute and return (the head's logits: of every position, of the last one or none; hidden
 * states; attention probabilities) and in which mode (dropout on or off for this call only,
 * so concurrent generations never flip shared model state). `head` says what the logits are
 * (next token, masked tokens, labels).
 *
 * Legend: B batch, T time (new positions), Tk keys (cached + new), C channels, V vocab,
 * L layers, nH heads.
 */
import type { Rng, Tensor } from '../tensor/index.js';
import type { RouterStats } from '../nn/index.js';

/** The structural kind: what inputs forward() needs and what a cache holds. */
export type ModelKind = 'decoder' | 'encoder' | 'encoder-decoder';

/** Dropout on ('train') or off ('eval') for one call; absent: the model's `training` flag. */
export type ForwardMode = 'train' | 'eval';

/**
 * Which keys each query may attend beyond the family's own rule (causal for a decoder):
 * - padding: HF's `attention_mask`, (B, Tk) int32 of 1 for a token and 0 for padding over
 *   every key the call sees (cached positions + new ones); left padding is how batched
 *   generation lines prompts up;
 * - additive: a float mask broadcastable to (B, nH, T, Tk) added to the scores
 *   (-Infinity removes a key), for custom patterns (prefix LM);
 * - segments: (B, Tk) int32, the document id of every key the call sees (cached + new): a
 *   token attends only the tokens of its own document, so several sequences packed into one
 *   row (SFT packing) attend as if each were alone; with it, `positions` may restart at
 *   each document.
 */
export type AttentionMaskInput =
  | { readonly kind: 'padding'; readonly keys: Tensor }
  | { readonly kind: 'additive'; readonly mask: Tensor }
  | { readonly kind: 'segments'; readonly segments: Tensor };

/**
 * The output of an encoder, for cross-attention (encoder-decoder families): what
 * EncoderDecoderModel.encode returns, and what a caller that decodes several steps (beam
 * search, greedy translation) passes as `encoderOutput` on every call.
 */
export interface EncoderOutput {
  /** (B, Tk, C) */
  readonly hiddenStates: Tensor;
  /** (B, Tk) 1/0 validity of the encoder positions; absent: every position is valid. */
  readonly keys?: Tensor;
}

export interface ModelInputs {
  /** (B, T) int32 token ids. */
  readonly ids: Tensor;
  /** Absent: the family's own rule only (causal for decoders, every key for encoders). */
  readonly attentionMask?: AttentionMaskInput;
  /**
   * (B, T) int32 position of each new token; absent: cache length + 0..T-1 for every row.
   * Left-padded batches give each row its own (HF's cumsum(attention_mask) - 1), and keep
   * each row's shift the same across the calls of one cache.
   */
  readonly positions?: Tensor;
  /** Incremental decoding: keys/values of earlier positions; the new ones are appended. */
  readonly cache?: ModelCache;
  /**
   * Encoder-decoder families: what the decoder cross-attends, computed once per source by
   * `encode()`. With a cache that already holds the cross-attention keys and values (after
   * the first decoding step) only `keys`, the source padding, is read again.
   */
  readonly encoderOutput?: EncoderOutput;
  /**
   * (B, T) int32 segment of each token (HF's `token_type_ids`: 0 for the first text of a
   * pair, 1 for the second; Tokenizer.encodePair gives them), for families with a
   * token-type embedding (BERT); each id below the config's type_vocab_size. Absent: all 0.
   * Families without one (decoders) reject it.
   */
  readonly tokenTypes?: Tensor;
  /**
   * Encoder-decoder families, instead of encoderOutput: the source ids (B, S) int32; the
   * call runs the encoder first (in the same mode), as HF's `model(input_ids,
   * decoder_input_ids=...)` does (training with teacher forcing). With a cache that holds
   * the cross-attention state already, the encoder is not run again.
   */
  readonly sourceIds?: Tensor;
  /** (B, S) int32 1/0 validity of sourceIds (HF's attention_mask); absent: every position is a token. */
  readonly sourceMask?: Tensor;
}

/**
 * Which positions' logits a per-token head computes: 'all' (B, T, V), 'last' (B, 1, V),
 * 'none' (no head work at all), or `{ at }`: only the positions `at` lists, (N) int32 flat
 * indices b * T + t, giving (N, V) in that order (a loss with targets on few positions, as
 * the original BERT's masked-LM computes its head at the masked positions only). A
 * sequence-classification head has one output per row and rejects `{ at }`.
 */
export type LogitsSelection = 'all' | 'last' | 'none' | { readonly at: Tensor };

export interface OutputOptions {
  /** Default 'all'. */
  readonly logits?: LogitsSelection;
  /** Return the input of every block and the final normed state: L + 1 tensors (B, T, C). */
  readonly hiddenStates?: boolean;
  /**
   * Return every layer's attention probabilities (B, nH, T, Tk), for inspection. They come
   * from the composed attention path; without this option the fused kernel runs.
   */
  readonly attentions?: boolean;
  /** Dropout for this call only; absent: the model's `training` flag. */
  readonly mode?: ForwardMode;
  /** Dropout randomness; required in 'train' mode when the model has dropout > 0 (or router jitter). */
  readonly rng?: Rng;
  /** Return what each MoE layer's router did (models with expert layers; ignored by dense ones). */
  readonly routerStats?: boolean;
}

/** The options of the shorthand `forward(ids, options)`, which returns the logits alone. */
export interface LogitsOptions {
  readonly cache?: ModelCache;
  /** Default 'all'. */
  readonly logits?: 'all' | 'last';
  readonly mode?: ForwardMode;
  readonly rng?: Rng;
}

export interface ModelOutputs {
  /**
   * What the model's head computes (see ModelHead): next-token or masked-token logits
   * (B, T, V), (B, 1, V) with logits 'last', (N, V) with `{ at }`; sequence classification
   * (B, numLabels); token classification (B, T, numLabels) (or (B, 1, L), (N, L)); null
   * with 'none' or a model without a head.
   */
  readonly logits: Tensor | null;
  /** With `hiddenStates`: L + 1 tensors (B, T, C) (block inputs, then the final normed state). */
  readonly hiddenStates?: readonly Tensor[];
  /** With `attentions`: one (B, nH, T, Tk) per layer. */
  readonly attentions?: readonly Tensor[];
  /** With `attentions`, encoder-decoder families: the decoder's cross-attention, one (B, nH, T, S) per layer. */
  readonly crossAttentions?: readonly Tensor[];
  /**
   * With `attentions`, encoder-decoder families whose call ran the encoder (`sourceIds`, no
   * cached cross state): the encoder's self-attention, one (B, nH, S, S) per layer (HF's
   * encoder_attentions).
   */
  readonly encoderAttentions?: readonly Tensor[];
  /**
   * A loss term the family adds to the objective (MoE load balancing and router z-loss,
   * already weighted by their coefficients); absent when the family has none, when its
   * coefficients are 0, and under noGrad() (it is a training term).
   */
  readonly auxLoss?: Tensor;
  /** With `routerStats`, on models with expert layers: one record per MoE layer. */
  readonly routerStats?: readonly RouterStats[];
}

/**
 * Keys and values of earlier positions, per layer: self-attention state that grows by
 * append, and (encoder-decoder families) cross-attention state computed once from the
 * encoder output. The model appends during forward(); callers use length, truncate,
 * reorder and reset between calls.
 */
export interface ModelCache {
  /** Positions filled so far (the position of the next token). */
  readonly length: number;
  /** Writes k, v (B, nKV, T, hs) of `layer` at [length, length + T); the model calls advance(T) after every layer did. */
  append(layer: number, k: Tensor, v: Tensor): void;
  advance(T: number): void;
  /** Forgets positions from `length` on (speculative decoding rejects draft tokens). */
  truncate(length: number): void;
  /** Row b becomes old row batchIndices[b], repeats allowed (beam search picks parents). */
  reorder(batchIndices: readonly number[]): void;
  /** Cross-attention keys/values of `layer`, (B, nKV, Tk, hs) each, set once per encoder output. */
  setCross(layer: number, k: Tensor, v: Tensor): void;
  cross(layer: number): { readonly keys: Tensor; readonly values: Tensor } | null;
  /** Forgets every position (the buffers are reused). */
  reset(): void;
  dispose(): void;
}

/** The part of Module the callers use (parameters for the optimizer and checkpoints, modes, dispose). */
export interface ModuleLike {
  training: boolean;
  train(mode?: boolean): this;
  eval(): this;
  namedParameters(): Array<[string, Tensor]>;
  /**
   * The parameters and persistent buffers by path: what a model folder saves and loads
   * (Module has it); a model without it is saved as its namedParameters().
   */
  stateDict?(): Map<string, Tensor>;
  parameters(): Tensor[];
  dispose(): void;
}

/**
 * What a model's logits are, HF's task classes: next-token prediction (`*ForCausalLM`,
 * `GPT2LMHeadModel`), masked-token prediction (`BertForMaskedLM`), one label per sequence
 * (`*ForSequenceClassification`: logits (B, numLabels)), one label per token
 * (`*ForTokenClassification`: (B, T, numLabels)), or none (a bare body such as `BertModel`,
 * whose use is its hidden states). `labels` are the class names (config.json's id2label).
 */
export type ModelHead =
  | { readonly kind: 'causal-lm' }
  | { readonly kind: 'masked-lm' }
  | { readonly kind: 'sequence-classification'; readonly labels: readonly string[] }
  | { readonly kind: 'token-classification'; readonly labels: readonly string[] }
  | { readonly kind: 'none' };

/**
 * A model any caller can drive. `config` is the family's resolved config (registry.ts
 * turns it into config.json and back); callers read only the fields below.
 *
 * @example
 * const model: LanguageModel = createModel(gpt2Preset({ vocabSize: 65, nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 64 }));
 * const { logits } = noGrad(() => model.forward({ ids }, { logits: 'last', mode: 'eval' })); // (B, 1, V)
 *
 * // incremental decoding
 * const cache = model.createCache(1);
 * model.forward({ ids: prompt, cache }, { logits: 'last', mode: 'eval' }); // fills [0, T)
 * model.forward({ ids: next, cache }, { logits: 'last', mode: 'eval' });   // (1, 1) -> (1, 1, V)
 */
export interface LanguageModel<Config extends ModelConfig = ModelConfig> extends ModuleLike {
  /** The registry key of the family (HF `model_type`: 'gpt2', 'llama'). */
  readonly family: string;
  readonly kind: ModelKind;
  readonly config: Config;
  /** Ids the embedding and the head cover. */
  readonly vocabSize: number;
  /** The longest sequence (positions) the model takes; a cache holds at most this many. */
  readonly maxPositions: number;
  /** What the logits are; absent: next-token prediction ('causal-lm'). */
  readonly head?: ModelHead;
  forward(inputs: ModelInputs, outputs?: OutputOptions): ModelOutputs;
  /** Shorthand for `forward({ ids, cache }, options).logits`: the nn-style call of training loops and tests. */
  forward(ids: Tensor, options?: LogitsOptions): Tensor;
  /** A cache for `batch` sequences of up to `maxT` positions (default maxPositions). */
  createCache(batch: number, maxT?: number): ModelCache;
}

/** Dropout mode and randomness of a call that is not forward() (encode). */
export interface ModeOptions {
  readonly mode?: ForwardMode;
  readonly rng?: Rng;
}

/**
 * A model of kind 'encoder-decoder' (Marian): the decoder is `forward`, whose inputs carry
 * the source (`sourceIds` + `sourceMask`) or its encoding (`encoderOutput`); `encode` runs
 * the encoder alone, once per source, for decoding loops. `vocabSize` is the target (output)
 * vocabulary; `sourceVocabSize` the ids the encoder takes.
 *
 * @example
 * const encoded = noGrad(() => model.encode(sourceIds, { sourceMask, mode: 'eval' })); // hiddenStates (B, S, C)
 * const cache = model.createCache(B);
 * let ids = Tensor.fromArray(new Int32Array(B).fill(start), [B, 1]);
 * const { logits } = model.forward({ ids, cache, encoderOutput: encoded }, { logits: 'last', mode: 'eval' }); // (B, 1, V)
 */
export interface EncoderDecoderModel<Config extends ModelConfig = ModelConfig> extends LanguageModel<Config> {
  readonly kind: 'encoder-decoder';
  readonly sourceVocabSize: number;
  /** The first decoder input of every target (HF decoder_start_token_id; Marian: the pad id). */
  readonly decoderStartTokenId: number;
  /** config.json's pad_token_id (source padding; what finished rows are fed). */
  readonly padTokenId: number;
  /** config.json's eos_token_id: the end of a source and of a target. */
  readonly eosTokenId: number;
  /** config.json's forced_eos_token_id: forced at the last position a length limit allows; null for none. */
  readonly forcedEosTokenId: number | null;
  /** sourceIds (B, S) int32 -> the encoder output, `keys` = sourceMask. */
  encode(sourceIds: Tensor, options?: ModeOptions & { readonly sourceMask?: Tensor }): EncoderOutput;
}

/** True for a model of kind 'encoder-decoder' (it then has encode()). */
export function isEncoderDecoder(model: LanguageModel): model is EncoderDecoderModel {
  return (
    model.kind === 'encoder-decoder' && typeof (model as Partial<EncoderDecoderModel>).encode === 'function'
  );
}

/** What every family's resolved config has: the registry key it is saved and loaded under. */
export interface ModelConfig {
  /** The family's HF `model_type` ('gpt2', 'llama'). */
  readonly arch: string;
}
