/**
 * Cross-attention (Vaswani et al., 2017, sec. 3.2.3: "encoder-decoder attention"): queries
 * from the decoder's sequence x (B, T, C), keys and values from another sequence, the
 * encoder output (B, S, Ce), with T != S allowed and no causal rule; a padding or additive
 * mask can remove the encoder's padding positions. The keys and values depend on the
 * encoder output only, so while decoding they are projected once per layer and kept in
 * the KV cache (setCross / cross), and each step projects only its queries.
 *
 * Projections are always separate (q from C, k and v from Ce), named by the model so that
 * paths equal checkpoint keys (BART/Marian: encoder_attn.q_proj/k_proj/v_proj/out_proj;
 * T5: EncDecAttention.q/k/v/o), and read through the child map like SelfAttention's.
 *
 * Legend: B batch, T decoder positions, S encoder positions, C channels, Ce encoder
 * channels, nH query heads, nKV key/value heads, hs head size.
 */
import type { FloatDType, Tensor } from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';
import { Module } from '../module.js';
import { type LayerInitOptions, projectionInit } from '../init.js';
import { Linear, type LinearLayout, type Projection } from './linear.js';
import type { KVCache } from './kv-cache.js';
import {
  type AttentionDropout,
  type AttentionMask,
  bidirectionalMask,
  isCausal,
  maskOptions,
} from './attention-mask.js';
import { type AttentionResult, attendHeads, mergeHeads, splitHeads } from './attention.js';

export interface CrossAttentionNames {
  readonly q: string;
  readonly k: string;
  readonly v: string;
  readonly out: string;
}

export type CrossAttentionOptions = {
  readonly nEmbd: number;
  /** Channels of the encoder output (default nEmbd). */
  readonly encoderDim?: number;
  readonly nHead: number;
  readonly nKvHead: number;
  readonly bias: boolean;
  readonly layout: LinearLayout;
  readonly names: CrossAttentionNames;
} & LayerInitOptions;

export interface CrossAttentionContext {
  /** (B, S, Ce); may be omitted when the cache already holds this layer's keys and values. */
  readonly encoderOutput?: Tensor | null;
  /** Which encoder positions each query sees: bidirectional (default), padding (B, S) or additive, never causal. */
  readonly mask?: AttentionMask;
  /** Decoding: keys and values are computed on the first step and read from the cache after. */
  readonly cache?: KVCache | null;
  readonly layer?: number;
  readonly attentionDropout?: AttentionDropout;
  /** Run the composed op and return the (B, nH, T, S) probabilities (default false). */
  readonly returnProbabilities?: boolean;
}

export class CrossAttention extends Module {
  readonly nHead: number;
  readonly nKvHead: number;
  readonly headSize: number;
  readonly #names: CrossAttentionNames;

  constructor(options: CrossAttentionOptions) {
    super();
    const { nEmbd, nHead, nKvHead, bias, layout, names } = options;
    const encoderDim = options.encoderDim ?? nEmbd;
    this.nHead = nHead;
    this.nKvHead = nKvHead;
    this.headSize = nEmbd / nHead;
    this.#names = names;
    const kvWidth = nKvHead * this.headSize;
    const std = projectionInit(options, 'std');
    this.addChild(names.q, new Linear(nEmbd, nEmbd, { bias, layout, ...std }));
    this.addChild(names.k, new Linear(encoderDim, kvWidth, { bias, layout, ...std }));
    this.addChild(names.v, new Linear(encoderDim, kvWidth, { bias, layout, ...std }));
    this.addChild(
      names.out,
      new Linear(nEmbd, nEmbd, { bias, layout, ...projectionInit(options, 'outStd') }),
    );
  }

  get q(): Projection {
    return this.child<Projection>(this.#names.q);
  }

  get k(): Projection {
    return this.child<Projection>(this.#names.k);
  }

  get v(): Projection {
    return this.child<Projection>(this.#names.v);
  }

  get out(): Projection {
    return this.child<Projection>(this.#names.out);
  }

  /** The keys and values (B, nKV, S, hs) of an encoder output (B, S, Ce). */
  project(encoderOutput: Tensor): { readonly keys: Tensor; readonly values: Tensor } {
    const { nKvHead: nKV, headSize: hs } = this;
    return {
      keys: splitHeads(this.k.forward(encoderOutput), nKV, hs), // (B, nKV, S, hs)
      values: splitHeads(this.v.forward(encoderOutput), nKV, hs), // (B, nKV, S, hs)
    };
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, context: CrossAttentionContext): Tensor {
    return this.attend(x, context).output;
  }

  /** x (B, T, C) -> the output (B, T, C) and, with returnProbabilities, the probabilities (B, nH, T, S). */
  attend(x: Tensor, context: CrossAttentionContext): AttentionResult {
    const mask = context.mask ?? bidirectionalMask;
    if (isCausal(mask)) {
      throw new ConfigError('cross-attention takes no causal rule', {
        where: 'CrossAttention.attend',
        expected: 'a bidirectional, padding or additive mask with causal false',
        actual: `${mask.kind} mask with the causal rule`,
      });
    }
    const cache = context.cache ?? null;
    const layer = context.layer ?? 0;
    let kv = cache?.cross(layer) ?? null;
    if (kv === null) {
      const encoderOutput = context.encoderOutput ?? null;
      if (encoderOutput === null) {
        throw new ConfigError('cross-attention needs the encoder output', {
          where: 'CrossAttention.attend',
          expected: `encoderOutput (B, S, Ce), or a cache holding layer ${layer}'s cross-attention keys`,
          actual: cache === null ? 'neither' : 'a cache without them',
        });
      }
      kv = this.project(encoderOutput);
      cache?.setCross(layer, kv.keys, kv.values);
    }
    const q = splitHeads(this.q.forward(x), this.nHead, this.headSize); // (B, nH, T, hs)
    const [B] = x.shape as [number];
    const S = kv.keys.shape[2]!;
    const shape = { B, Tk: S, filled: S, causalOffset: 0 };
    const options = maskOptions(
      mask,
      shape,
      q.dtype as FloatDType,
      context.attentionDropout ?? null,
      'CrossAttention',
    );
    const { y, probabilities } = attendHeads(
      q,
      kv.keys,
      kv.values,
      options,
      context.returnProbabilities ?? false,
    ); // (B, nH, T, hs)
    return { output: this.out.forward(mergeHeads(y)), probabilities }; // (B, T, C)
  }
}
