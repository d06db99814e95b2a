/**
 * Multi-head self-attention with grouped-query heads (nKV key/value heads shared by
 * nH / nKV query heads each), optional RoPE, an optional KV cache and a mask kind
 * (attention-mask.ts: causal by default, bidirectional, padding, additive), on the fused
 * scaled-dot-product attention op; with `returnProbabilities` it runs the composed op
 * instead and returns the (B, nH, T, Tk) attention probabilities too (for inspection; the
 * fused kernel stays the training path). Cross-attention is cross-attention.ts.
 *
 * Projections are either one fused qkv matrix (GPT-2's c_attn, one GEMM) or three separate
 * ones (Llama's q_proj/k_proj/v_proj); the names come from the model so that parameter
 * paths equal the checkpoint keys, and may be dotted paths (BERT's self.query, output.dense). They are read through the child map (module.ts), so
 * replaceChild() can wrap any of them (LoRA on q_proj, a quantized c_attn).
 *
 * What some families add, each an option: a head size other than C / nH (Qwen3, Mistral
 * NeMo: head_dim; q_proj then maps C -> nH hs and o_proj nH hs -> C), no bias on the output
 * projection while q/k/v have one (Qwen2), an RMSNorm over each head of q and k before RoPE
 * (Qwen3's q_norm / k_norm), and a sliding window (Mistral: each query sees its `window`
 * latest keys, itself included, see attention-mask.ts).
 *
 * Legend: B batch, T time, C channels, nH query heads, nKV key/value heads, hs head size,
 * Tk keys attended.
 */
import {
  Tensor,
  type FloatDType,
  type AttentionOptions as OpOptions,
  composedAttention,
  concat,
  narrow,
  permute,
  reshape,
  scaledDotProductAttention,
} from '../../tensor/index.js';
import { Module } from '../module.js';
import { type LayerInitOptions, projectionInit } from '../init.js';
import { Linear, type LinearLayout, type Projection } from './linear.js';
import { RMSNorm } from './rms-norm.js';
import type { RotaryEmbedding } from './positional.js';
import type { KVCache } from './kv-cache.js';
import {
  type AttentionDropout,
  type AttentionMask,
  causalMask,
  isCausal,
  maskOptions,
} from './attention-mask.js';

export type AttentionProjections =
  | { readonly kind: 'fused'; readonly qkv: string; readonly out: string }
  | {
      readonly kind: 'separate';
      readonly q: string;
      readonly k: string;
      readonly v: string;
      readonly out: string;
    };

/** RMSNorm over each head's queries and keys (hs channels) before RoPE, as Qwen3's q_norm / k_norm. */
export interface QkNorm {
  readonly eps: number;
  /** The two norms' names (checkpoint keys below the attention), e.g. q_norm, k_norm. */
  readonly q: string;
  readonly k: string;
}

/**
 * `outStd` is the std of the output projection (GPT-2 scales residual projections by
 * 1/sqrt(2L)). `bias` is the q/k/v projections' (and, unless `outBias` says otherwise, the
 * output projection's).
 */
export type AttentionOptions = {
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nKvHead: number;
  readonly bias: boolean;
  readonly layout: LinearLayout;
  readonly projections: AttentionProjections;
  /** Channels per head (default nEmbd / nHead). */
  readonly headSize?: number;
  /** The output projection's bias (default `bias`). */
  readonly outBias?: boolean;
  /** Per-head RMSNorm of q and k before RoPE (default none). */
  readonly qkNorm?: QkNorm | null;
  /** Sliding window: each query sees at most this many latest keys, itself included (default none). */
  readonly window?: number | null;
} & LayerInitOptions;

export interface AttentionContext {
  /** Position of the first query (the cache length; 0 without a cache). */
  readonly offset: number;
  readonly rope: RotaryEmbedding | null;
  readonly cache: KVCache | null;
  readonly layer: number;
  readonly attentionDropout: AttentionDropout;
  /**
   * Which keys each query sees (default causal). With a cache, a padding mask covers every
   * key so far, (B, offset + T), and an additive mask's last dimension is offset + T.
   */
  readonly mask?: AttentionMask;
  /** Run the composed op and return the attention probabilities (default false: the fused kernel). */
  readonly returnProbabilities?: boolean;
}

export interface AttentionResult {
  /** (B, T, C) */
  readonly output: Tensor;
  /** (B, nH, T, Tk), with returnProbabilities only; null otherwise. */
  readonly probabilities: Tensor | null;
}

/** x (B, T, n * hs) -> (B, n, T, hs), a view; with `norm`, each head normalised first (Qwen3's q_norm). */
export function splitHeads(x: Tensor, n: number, hs: number, norm: RMSNorm | null = null): Tensor {
  const [B, T] = x.shape as [number, number];
  const heads = reshape(x, [B, T, n, hs]); // (B, T, n, hs)
  return permute(norm === null ? heads : norm.forward(heads), [0, 2, 1, 3]); // (B, n, T, hs)
}

/** y (B, nH, T, hs) -> (B, T, nH * hs). */
export function mergeHeads(y: Tensor): Tensor {
  const [B, nH, T, hs] = y.shape as [number, number, number, number];
  return reshape(permute(y, [0, 2, 1, 3]), [B, T, nH * hs]); // (B, T, C)
}

/** The fused op, or the composed one when the probabilities are wanted. */
export function attendHeads(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: OpOptions,
  returnProbabilities: boolean,
): { readonly y: Tensor; readonly probabilities: Tensor | null } {
  if (returnProbabilities) {
    const { output, probabilities } = composedAttention(q, k, v, options);
    return { y: output, probabilities };
  }
  return { y: scaledDotProductAttention(q, k, v, options), probabilities: null };
}

export class SelfAttention extends Module {
  readonly nHead: number;
  readonly nKvHead: number;
  readonly headSize: number;
  /** The sliding window (keys per query, itself included); null for full attention. */
  readonly window: number | null;
  readonly #names: AttentionProjections;
  readonly #qkNorm: QkNorm | null;

  constructor(options: AttentionOptions) {
    super();
    const { nEmbd, nHead, nKvHead, bias, layout, projections } = options;
    this.nHead = nHead;
    this.nKvHead = nKvHead;
    this.headSize = options.headSize ?? nEmbd / nHead;
    this.window = options.window ?? null;
    this.#names = projections;
    this.#qkNorm = options.qkNorm ?? null;
    const qWidth = nHead * this.headSize;
    const kvWidth = nKvHead * this.headSize;
    const std = projectionInit(options, 'std');
    if (projections.kind === 'fused') {
      this.addChild(projections.qkv, new Linear(nEmbd, qWidth + 2 * kvWidth, { ...std, bias, layout }));
    } else {
      this.addChild(projections.q, new Linear(nEmbd, qWidth, { ...std, bias, layout }));
      this.addChild(projections.k, new Linear(nEmbd, kvWidth, { ...std, bias, layout }));
      this.addChild(projections.v, new Linear(nEmbd, kvWidth, { ...std, bias, layout }));
    }
    const outBias = options.outBias ?? bias;
    const outInit = projectionInit(options, 'outStd');
    this.addChild(projections.out, new Linear(qWidth, nEmbd, { ...outInit, bias: outBias, layout }));
    // After the projections, as Qwen3Attention registers them; norms draw nothing.
    if (this.#qkNorm !== null) {
      const init = options.init === 'empty' ? 'empty' : 'random';
      this.addChild(this.#qkNorm.q, new RMSNorm(this.headSize, { eps: this.#qkNorm.eps, init }));
      this.addChild(this.#qkNorm.k, new RMSNorm(this.headSize, { eps: this.#qkNorm.eps, init }));
    }
  }

  /** The fused (C -> C + 2 nKV hs) projection; null with separate projections. */
  get qkv(): Projection | null {
    return this.#names.kind === 'fused' ? this.child<Projection>(this.#names.qkv) : null;
  }

  get q(): Projection | null {
    return this.#names.kind === 'separate' ? this.child<Projection>(this.#names.q) : null;
  }

  get k(): Projection | null {
    return this.#names.kind === 'separate' ? this.child<Projection>(this.#names.k) : null;
  }

  get v(): Projection | null {
    return this.#names.kind === 'separate' ? this.child<Projection>(this.#names.v) : null;
  }

  get out(): Projection {
    return this.child<Projection>(this.#names.out);
  }

  /** The per-head norms of q and k; null without them. */
  get qNorm(): RMSNorm | null {
    return this.#qkNorm === null ? null : this.child<RMSNorm>(this.#qkNorm.q);
  }

  get kNorm(): RMSNorm | null {
    return this.#qkNorm === null ? null : this.child<RMSNorm>(this.#qkNorm.k);
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, context: AttentionContext): Tensor {
    return this.attend(x, context).output;
  }

  /** x (B, T, C) -> the output (B, T, C) and, with returnProbabilities, the probabilities (B, nH, T, Tk). */
  attend(x: Tensor, context: AttentionContext): AttentionResult {
    const [B, T] = x.shape as [number, number];
    const { nHead: nH, nKvHead: nKV, headSize: hs } = this;
    let q: Tensor;
    let k: Tensor;
    let v: Tensor;
    const qkv = this.qkv;
    if (qkv !== null) {
      // One GEMM; the heads are then views (narrow + permute), never copies.
      const heads = reshape(qkv.forward(x), [B, T, nH + 2 * nKV, hs]); // (B, T, nH + 2nKV, hs)
      const normed = (h: Tensor, norm: RMSNorm | null): Tensor => (norm === null ? h : norm.forward(h));
      q = permute(normed(narrow(heads, 2, 0, nH), this.qNorm), [0, 2, 1, 3]); // (B, nH, T, hs)
      k = permute(normed(narrow(heads, 2, nH, nKV), this.kNorm), [0, 2, 1, 3]); // (B, nKV, T, hs)
      v = permute(narrow(heads, 2, nH + nKV, nKV), [0, 2, 1, 3]); // (B, nKV, T, hs)
    } else {
      q = splitHeads(this.q!.forward(x), nH, hs, this.qNorm); // (B, nH, T, hs)
      k = splitHeads(this.k!.forward(x), nKV, hs, this.kNorm); // (B, nKV, T, hs)
      v = splitHeads(this.v!.forward(x), nKV, hs); // (B, nKV, T, hs)
    }
    const mask = context.mask ?? causalMask;
    const returnProbabilities = context.returnProbabilities ?? false;
    if (mask.kind === 'leftPadding' && !returnProbabilities && context.attentionDropout === null) {
      return {
        output: this.out.forward(mergeHeads(this.#attendRows(q, k, v, mask.starts, context))),
        probabilities: null,
      }; // (B, T, C)
    }
    if (context.rope !== null) {
      q = context.rope.apply(q, context.offset); // (B, nH, T, hs)
      k = context.rope.apply(k, context.offset); // (B, nKV, T, hs)
    }
    let causalOffset = 0;
    let filled = T;
    if (context.cache !== null) {
      filled = context.offset + T;
      context.cache.append(context.layer, k, v);
      const all = context.cache.buffers(context.layer);
      // The whole buffers, not the filled prefix: with causalOffset = offset the kernel
      // reads keys 0..offset + T - 1 only, and no per-step copy of the prefix is made. A
      // rule that reads every key, a custom mask over the keys so far, or probabilities to
      // return need the filled prefix itself, and so does a sliding window's mask.
      const sliding = this.window !== null && filled > this.window;
      const whole = isCausal(mask) && mask.kind !== 'additive' && !returnProbabilities && !sliding;
      k = whole ? all.keys : narrow(all.keys, 2, 0, filled); // (B, nKV, maxT or offset + T, hs)
      v = whole ? all.values : narrow(all.values, 2, 0, filled); // (B, nKV, maxT or offset + T, hs)
      causalOffset = context.offset;
    }
    // Query i (position offset + i) sees keys 0..offset + i under the causal rule.
    const shape = { B, Tk: k.shape[2]!, filled, causalOffset };
    const options = maskOptions(
      mask,
      shape,
      q.dtype as FloatDType,
      context.attentionDropout,
      'SelfAttention',
      {
        size: this.window,
        T,
      },
    );
    const { y, probabilities } = attendHeads(q, k, v, options, returnProbabilities); // (B, nH, T, hs)
    return { output: this.out.forward(mergeHeads(y)), probabilities }; // (B, T, C)
  }

  /**
   * The leftPadding mask's path: row b's tokens sit at positions column - starts[b], and it
   * attends exactly its own keys [starts[b], offset + T), so each row runs the arithmetic of
   * the same row alone in a batch of one (RoPE at its own positions, the same key count and
   * tiling in the fused kernel). q (B, nH, T, hs), k, v (B, nKV, T, hs) before RoPE -> y (B, nH, T, hs).
   */
  #attendRows(q: Tensor, k: Tensor, v: Tensor, starts: readonly number[], context: AttentionContext): Tensor {
    const [B, nH, T, hs] = q.shape as [number, number, number, number];
    const row = (t: Tensor, b: number): Tensor => narrow(t, 0, b, 1); // (1, n, T, hs)
    const rope = context.rope;
    const offset = context.offset;
    const filled = offset + T;
    // Per row: the new columns that are padding (before its start), then its tokens.
    const pads = starts.map((start) => Math.min(T, Math.max(0, start - offset)));
    const qs: Tensor[] = [];
    const ks: Tensor[] = [];
    for (let b = 0; b < B; b++) {
      const pad = pads[b]!;
      const tokens = (t: Tensor): Tensor => narrow(row(t, b), 2, pad, T - pad); // (1, n, T - pad, hs)
      const position = offset + pad - starts[b]!; // of the row's first new token
      if (pad === T) {
        qs.push(tokens(q));
        ks.push(row(k, b));
        continue;
      }
      qs.push(rope === null ? tokens(q) : rope.apply(tokens(q), position)); // (1, nH, T - pad, hs)
      const kb = rope === null ? tokens(k) : rope.apply(tokens(k), position); // (1, nKV, T - pad, hs)
      // The padding columns' keys are stored as they are: no query ever reads them.
      ks.push(pad === 0 ? kb : concat([narrow(row(k, b), 2, 0, pad), kb], 2)); // (1, nKV, T, hs)
    }
    let keys: Tensor;
    let values: Tensor;
    if (context.cache !== null) {
      context.cache.append(context.layer, B === 1 ? ks[0]! : concat(ks, 0), v);
      ({ keys, values } = context.cache.buffers(context.layer)); // (B, nKV, maxT, hs)
    } else {
      keys = B === 1 ? ks[0]! : concat(ks, 0); // (B, nKV, T, hs)
      values = v;
    }
    const ys: Tensor[] = [];
    for (let b = 0; b < B; b++) {
      const pad = pads[b]!;
      const start = starts[b]!;
      const zeros = pad === 0 ? null : Tensor.empty([1, nH, pad, hs], q.dtype); // padding queries give 0
      if (pad === T) {
        ys.push(zeros!);
        continue;
      }
      const kb = narrow(row(keys, b), 2, start, filled - start); // (1, nKV, own keys, hs)
      const vb = narrow(row(values, b), 2, start, filled - start); // (1, nKV, own keys, hs)
      // Query i of the row's tokens is column offset + pad + i, key j column start + j.
      const options = { causal: true, causalOffset: offset + pad - start, dropout: null };
      const y = scaledDotProductAttention(qs[b]!, kb, vb, options); // (1, nH, T - pad, hs)
      ys.push(zeros === null ? y : concat([zeros, y], 2)); // (1, nH, T, hs)
    }
    return B === 1 ? ys[0]! : concat(ys, 0); // (B, nH, T, hs)
  }
}
