/**
 * Causal multi-head self-attention with grouped-query heads (nKV key/value heads shared by
 * nH / nKV query heads each), optional RoPE and an optional KV cache, on the fused
 * scaled-dot-product attention op.
 *
 * Projections are either one fused qkv matrix (GPT-2's c_attn, one GEMM) or three separate
 * ones (Llama's q_proj/k_proj/v_proj); the names come from the model so that parameter
 * paths equal the checkpoint keys.
 *
 * Legend: B batch, T time, C channels, nH query heads, nKV key/value heads, hs head size.
 */
import {
  type Tensor,
  type Rng,
  narrow,
  permute,
  reshape,
  scaledDotProductAttention,
} from '../../tensor/index.js';
import { Module } from '../module.js';
import { Linear, type LinearLayout } from './linear.js';
import type { RotaryEmbedding } from './positional.js';
import type { KVCache } from './kv-cache.js';

export type AttentionProjections =
  | { readonly kind: 'fused'; readonly qkv: string; readonly out: string }
  | {
      readonly kind: 'separate';
      readonly q: string;
      readonly k: string;
      readonly v: string;
      readonly out: string;
    };

export interface AttentionOptions {
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nKvHead: number;
  readonly bias: boolean;
  readonly layout: LinearLayout;
  readonly projections: AttentionProjections;
  readonly std: number;
  /** Std of the output projection (GPT-2 scales residual projections by 1/sqrt(2L)). */
  readonly outStd: number;
  readonly rng: Rng;
}

export interface AttentionContext {
  /** Position of the first query (the cache length; 0 without a cache). */
  readonly offset: number;
  readonly rope: RotaryEmbedding | null;
  readonly cache: KVCache | null;
  readonly layer: number;
  /** Dropout on the attention probabilities while training (nanoGPT's attn_dropout); null for none. */
  readonly attentionDropout: { readonly p: number; readonly rng: Rng } | null;
}

export class CausalSelfAttention extends Module {
  readonly nHead: number;
  readonly nKvHead: number;
  readonly headSize: number;
  readonly qkv: Linear | null;
  readonly q: Linear | null;
  readonly k: Linear | null;
  readonly v: Linear | null;
  readonly out: Linear;

  constructor(options: AttentionOptions) {
    super();
    const { nEmbd, nHead, nKvHead, bias, layout, rng, std, projections } = options;
    this.nHead = nHead;
    this.nKvHead = nKvHead;
    this.headSize = nEmbd / nHead;
    const kvWidth = nKvHead * this.headSize;
    const linear = (name: string, out: number, s: number): Linear =>
      this.addChild(name, new Linear(nEmbd, out, { bias, layout, std: s, rng }));
    if (projections.kind === 'fused') {
      this.qkv = linear(projections.qkv, nEmbd + 2 * kvWidth, std);
      this.q = this.k = this.v = null;
    } else {
      this.qkv = null;
      this.q = linear(projections.q, nEmbd, std);
      this.k = linear(projections.k, kvWidth, std);
      this.v = linear(projections.v, kvWidth, std);
    }
    this.out = linear(projections.out, nEmbd, options.outStd);
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, context: AttentionContext): Tensor {
    const [B, T, C] = x.shape as [number, number, number];
    const { nHead: nH, nKvHead: nKV, headSize: hs } = this;
    let q: Tensor;
    let k: Tensor;
    let v: Tensor;
    if (this.qkv !== null) {
      // One GEMM; the heads are then views (narrow + permute), never copies.
      const qkv = reshape(this.qkv.forward(x), [B, T, nH + 2 * nKV, hs]); // (B, T, nH + 2nKV, hs)
      q = permute(narrow(qkv, 2, 0, nH), [0, 2, 1, 3]); // (B, nH, T, hs)
      k = permute(narrow(qkv, 2, nH, nKV), [0, 2, 1, 3]); // (B, nKV, T, hs)
      v = permute(narrow(qkv, 2, nH + nKV, nKV), [0, 2, 1, 3]); // (B, nKV, T, hs)
    } else {
      q = permute(reshape(this.q!.forward(x), [B, T, nH, hs]), [0, 2, 1, 3]); // (B, nH, T, hs)
      k = permute(reshape(this.k!.forward(x), [B, T, nKV, hs]), [0, 2, 1, 3]); // (B, nKV, T, hs)
      v = permute(reshape(this.v!.forward(x), [B, T, nKV, hs]), [0, 2, 1, 3]); // (B, nKV, T, hs)
    }
    if (context.rope !== null) {
      q = context.rope.apply(q, context.offset); // (B, nH, T, hs)
      k = context.rope.apply(k, context.offset); // (B, nKV, T, hs)
    }
    let causalOffset = 0;
    if (context.cache !== null) {
      context.cache.append(context.layer, k, v);
      // The whole buffers, not the filled prefix: with causalOffset = offset the kernel
      // reads keys 0..offset + T - 1 only, and no per-step copy of the prefix is made.
      const all = context.cache.buffers(context.layer);
      k = all.keys; // (B, nKV, maxT, hs)
      v = all.values; // (B, nKV, maxT, hs)
      causalOffset = context.offset;
    }
    // Query i (position offset + i) sees keys 0..offset + i.
    const y = scaledDotProductAttention(q, k, v, {
      causal: true,
      causalOffset,
      dropout: context.attentionDropout,
    }); // (B, nH, T, hs)
    const merged = reshape(permute(y, [0, 2, 1, 3]), [B, T, C]); // (B, T, C)
    return this.out.forward(merged); // (B, T, C)
  }
}
