/**
 * The JSON shapes of the studio's API (docs/studio.md), shared by the server (src/studio)
 * and the web app (web/studio), which imports this file's types only.
 */

export interface ModelSummary {
  readonly id: string;
  readonly path: string;
  readonly family: string;
  readonly kind: 'decoder' | 'encoder' | 'encoder-decoder';
  /** The head's kind ('causal-lm', 'masked-lm', ...). */
  readonly head: string;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly parameters: number;
  readonly chat: boolean;
}

export interface TokenizeResult {
  /** A model id or a built-in encoding (gpt2, r50k_base, cl100k_base, o200k_base). */
  readonly tokenizer: string;
  readonly ids: readonly number[];
  /** The text of each token as `lmforge tokenize` shows it. */
  readonly pieces: readonly string[];
  readonly characters: number;
}

/** Which attention: decoders' and encoders' `self`; an encoder-decoder's `encoder`, `decoder` and `cross`. */
export type AttentionKind = 'self' | 'encoder' | 'decoder' | 'cross';

/** The size of one set of attention maps (every layer and head of it). */
export interface AttentionSetInfo {
  readonly attention: AttentionKind;
  readonly layers: number;
  readonly heads: number;
  /** Queries: the text's (or target's) tokens; the source's for `encoder`. */
  readonly rows: number;
  /** Keys: the source's tokens for `encoder` and `cross`. */
  readonly cols: number;
}

export interface TokenTextView {
  readonly tokens: readonly number[];
  readonly pieces: readonly string[];
}

export interface AttentionResponse {
  readonly model: string;
  /**
   * The ids `lmforge tokenize --tokenizer MODEL` gives for the text; for an encoder-decoder
   * the decoder's inputs (its start id, then the target's ids without a final EOS).
   */
  readonly tokens: readonly number[];
  readonly pieces: readonly string[];
  /** Encoder-decoders: the source's ids and pieces; null otherwise. */
  readonly source: TokenTextView | null;
  /** Every set the model has, whether asked for or not. */
  readonly attentions: readonly AttentionSetInfo[];
  /**
   * layers[l][h][i][j]: the attention of query i to key j (each row sums to 1): `self`, or an
   * encoder-decoder's `decoder`, over the layers and heads of layersSelected (all by default).
   */
  readonly layers?: number[][][][];
  readonly layersSelected?: { readonly layers: readonly number[]; readonly heads: readonly number[] };
  /** Encoder-decoders: the encoder's self-attention (source x source). */
  readonly encoderLayers?: number[][][][];
  readonly encoderLayersSelected?: { readonly layers: readonly number[]; readonly heads: readonly number[] };
  /** Encoder-decoders: the cross-attention (target tokens x source tokens). */
  readonly crossLayers?: number[][][][];
  readonly crossLayersSelected?: { readonly layers: readonly number[]; readonly heads: readonly number[] };
}

/** One map of the binary answer: where its rows x cols values start after the header. */
export interface AttentionMapInfo {
  readonly attention: AttentionKind;
  readonly layer: number;
  readonly head: number;
  readonly rows: number;
  readonly cols: number;
  /** Bytes from the first map's start. */
  readonly offset: number;
}

/** The JSON header of the binary answer (docs/studio.md "Binary attention"). */
export interface AttentionBinaryHeader {
  readonly model: string;
  readonly tokens: readonly number[];
  readonly pieces: readonly string[];
  readonly source: TokenTextView | null;
  readonly attentions: readonly AttentionSetInfo[];
  readonly dtype: 'float16' | 'float32';
  readonly maps: readonly AttentionMapInfo[];
}

export interface NextTokenCandidateView {
  readonly id: number;
  readonly token: string;
  /** softmax(logits) at temperature 1: what `generate --top` prints. */
  readonly prob: number;
  /** softmax(logits / temperature). */
  readonly scaled: number;
  /** Among the top-k (true when top-k is off). */
  readonly keptTopK: boolean;
  /** Survives top-p after top-k (true when top-p is off). */
  readonly keptTopP: boolean;
  /** The renormalised distribution a sample draws from (0 for a filtered token). */
  readonly filtered: number;
}

export interface NextTokenResponse {
  readonly model: string;
  readonly promptIds: readonly number[];
  readonly promptPieces: readonly string[];
  /** The `top` most probable tokens, highest first. */
  readonly candidates: readonly NextTokenCandidateView[];
  /** Tokens of the whole vocabulary that survive both filters. */
  readonly survivors: number;
  readonly greedy: { readonly id: number; readonly token: string };
  /** One draw from the filtered distribution with `seed`. */
  readonly sampled: { readonly id: number; readonly token: string };
}

export interface EmbeddingPoint {
  readonly label: string;
  /** Tokens mode: the token id. */
  readonly id: number | null;
  readonly x: number;
  readonly y: number;
}

export interface Neighbour {
  readonly label: string;
  readonly id: number | null;
  readonly similarity: number;
}

export interface EmbeddingsResponse {
  readonly model: string;
  readonly mode: 'tokens' | 'sentences';
  readonly projection: 'pca' | 'umap';
  readonly dim: number;
  readonly points: readonly EmbeddingPoint[];
  /** The label of the query and its nearest neighbours by cosine, most similar first. */
  readonly query: string | null;
  readonly neighbours: readonly Neighbour[];
}

export interface PositionalResponse {
  readonly model: string;
  /** The model's own encoding where its config says ('learned', 'sinusoidal', 'rope'), else null. */
  readonly modelEncoding: string | null;
  /** PE[p][i] of Vaswani et al. (positions x dim). */
  readonly sinusoidal: readonly (readonly number[])[];
  /** cos of the RoPE rotation angle of position p, frequency i (positions x headSize/2). */
  readonly rope: readonly (readonly number[])[];
  readonly theta: number;
  readonly headSize: number;
}

export interface RunSummary {
  readonly id: string;
  readonly dir: string;
  /** Optimiser steps in the log so far. */
  readonly step: number;
  /** trainer_state.json's iters, null before the first checkpoint. */
  readonly iters: number | null;
  readonly hasRouter: boolean;
  /** ms since the epoch of log.jsonl's last change. */
  readonly updated: number;
}

export interface StepRecord {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly ms: number;
  /** tokens per step / step time; null while the run has no trainer_state.json yet. */
  readonly tokensPerS: number | null;
}

export interface EvalRecord {
  readonly step: number;
  readonly trainLoss: number;
  readonly valLoss: number;
}

export interface RouterRecord {
  readonly step: number;
  /** load[layer][expert]: the share of assignments each expert got. */
  readonly load: readonly (readonly number[])[];
}

export interface RunLogResponse {
  readonly id: string;
  readonly steps: readonly StepRecord[];
  readonly evals: readonly EvalRecord[];
  readonly router: readonly RouterRecord[];
  /** The byte offset to ask from next time (`?from=`): only complete lines were read. */
  readonly next: number;
}

export type FeedbackRequest =
  | {
      readonly kind: 'rating';
      readonly prompt: string;
      readonly response: string;
      readonly rating: number;
      readonly model?: string | undefined;
    }
  | {
      readonly kind: 'comparison';
      readonly prompt: string;
      readonly chosen: string;
      readonly rejected: string;
      readonly model?: string | undefined;
    };

export interface ApiError {
  readonly error: { readonly type: string; readonly message: string };
}
