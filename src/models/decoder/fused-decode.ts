/**
 * The fused decode step: a KV-cached forward of ONE token (batch 1, no autograd) through the
 * blocks of a plain Llama-style decoder runs as one backend call per block (the decodeLayer
 * kernel, native/decode.c; its reference src/backend/js/decode.ts) instead of ~17 tensor
 * ops, as llama2.c's run.c does its whole `forward(pos)` in one function. The kernel runs
 * the unfused ops' own kernels in their order, so the hidden state, the cache and the
 * logits equal the unfused path's bit for bit (test/models/fused-decode.test.ts).
 *
 * What the kernel covers: RMSNorm, RoPE, separate q/k/v projections with or without biases
 * (Llama, Mistral without a window in reach, Qwen2), grouped-query attention, the SwiGLU
 * MLP with SiLU and no biases, every projection a plain float32 nn.Linear ((out, in)
 * weights). Anything else (GPT-2's LayerNorm / Conv1D / GELU, Qwen3's q/k norms,
 * a sliding window the context reaches, experts, LoRA adapters, quantized weights, outputs
 * that need the intermediates, float64 weights) takes the unfused path: fusedDecodePlan says null.
 *
 * Legend: C channels, nH heads, nKV kv-heads, hs head size, maxT cache positions.
 */
import { type Tensor, Tensor as TensorClass, backend, isGradEnabled } from '../../tensor/index.js';
import type { DecodeLayerParams, F } from '../../tensor/backend.js';
import { KVCache, Linear, Mlp, RMSNorm, RotaryEmbedding, type Projection } from '../../nn/index.js';
import type { TransformerBlock } from '../blocks/transformer-block.js';
import type { DecoderConfig } from './config.js';
import { windowOf } from './block-spec.js';

/** One block's weights as the kernel reads them. */
type LayerWeights = Omit<
  DecodeLayerParams,
  'C' | 'nH' | 'nKV' | 'hs' | 'hidden' | 'maxT' | 'pos' | 'eps' | 'scale' | 'cos' | 'sin'
>;

/** What a fused step needs, gathered once per call from the model's live children. */
export interface FusedDecodePlan {
  readonly layers: readonly LayerWeights[];
  readonly eps: number;
  readonly scale: number;
  readonly cos: F;
  readonly sin: F;
}

/** A whole contiguous float32 buffer (offset 0), or null when the kernel cannot read it as one. */
function whole(t: Tensor | null): Float32Array | null {
  if (t === null || t.offset !== 0 || !t.isContiguous()) return null;
  const data = t.data;
  return data instanceof Float32Array && data.length === t.size ? data : null;
}

/** An nn.Linear ((out, in) weight) without a LoRA or quantized wrapper: weight and bias buffers. */
function plainLinear(p: Projection | null, bias: boolean): { w: F; b: F | null } | null {
  if (!(p instanceof Linear) || p.layout !== 'outIn' || (p.bias !== null) !== bias) return null;
  const w = whole(p.weight);
  const b = p.bias === null ? null : whole(p.bias);
  return w === null || (bias && b === null) ? null : { w, b };
}

function layerWeights(block: TransformerBlock, config: DecoderConfig): LayerWeights | null {
  const attention = block.attention;
  const mlp = block.mlp;
  const { norm1, norm2 } = block;
  if (!(norm1 instanceof RMSNorm && norm2 instanceof RMSNorm) || attention.qNorm !== null) return null;
  if (!(mlp instanceof Mlp) || mlp.activation !== 'silu') return null;
  const qkvBias = config.attentionBias !== 'none';
  const q = plainLinear(attention.q, qkvBias);
  const k = plainLinear(attention.k, qkvBias);
  const v = plainLinear(attention.v, qkvBias);
  const o = plainLinear(attention.out, config.attentionBias === 'all');
  const gate = plainLinear(mlp.gate, false);
  const up = plainLinear(mlp.up, false);
  const down = plainLinear(mlp.down, false);
  const n1 = whole(norm1.weight);
  const n2 = whole(norm2.weight);
  if (q === null || k === null || v === null || o === null || gate === null || up === null || down === null)
    return null;
  if (n1 === null || n2 === null || norm1.eps !== config.normEps || norm2.eps !== config.normEps) return null;
  return {
    norm1: n1,
    wq: q.w,
    bq: q.b,
    wk: k.w,
    bk: k.b,
    wv: v.w,
    bv: v.b,
    wo: o.w,
    bo: o.b,
    norm2: n2,
    wGate: gate.w,
    wUp: up.w,
    wDown: down.w,
  };
}

/**
 * The plan of a fused step of one new token (the caller checks that the call feeds one
 * token of one sequence) through the blocks of a decoder, or null when it must run
 * unfused: autograd on, no KV cache, or a model the kernel does not cover (see the file
 * header).
 */
export function fusedDecodePlan(
  config: DecoderConfig,
  blocks: readonly TransformerBlock[],
  rope: RotaryEmbedding | null,
  cache: KVCache | null,
): FusedDecodePlan | null {
  if (isGradEnabled() || cache === null || rope === null || cache.shape.batch !== 1) return null;
  if (config.norm !== 'rmsNorm' || config.mlp !== 'swiglu' || config.moe !== null || config.qkNorm)
    return null;
  if (config.mlpBias || config.positional.kind !== 'rope') return null;
  const filled = cache.length + 1;
  const layers: LayerWeights[] = [];
  for (const [layer, block] of blocks.entries()) {
    const window = windowOf(config, layer);
    if (window !== null && filled > window) return null;
    const weights = layerWeights(block, config);
    if (weights === null) return null;
    layers.push(weights);
  }
  const cos = whole(rope.cos);
  const sin = whole(rope.sin);
  if (cos === null || sin === null) return null;
  // SelfAttention's scale: scaledDotProductAttention's default.
  return { layers, eps: config.normEps, scale: 1 / Math.sqrt(config.headSize), cos, sin };
}

/**
 * x (1, 1, C), the token's embedding -> the last block's output (1, 1, C); each block's key
 * and value are written at position cache.length (the model advances the cache after).
 */
export function fusedDecodeBlocks(
  plan: FusedDecodePlan,
  config: DecoderConfig,
  x: Tensor,
  cache: KVCache,
): Tensor {
  const out = TensorClass.fromArray(x.floats().slice(), [1, 1, config.nEmbd]); // a copy, updated in place
  const state = out.floats();
  const { nEmbd: C, nHead: nH, nKvHead: nKV, headSize: hs, intermediateSize: hidden } = config;
  const { maxT } = cache.shape;
  plan.layers.forEach((weights, layer) => {
    const { keys, values } = cache.buffers(layer); // (1, nKV, maxT, hs)
    backend().decodeLayer(state, keys.floats(), values.floats(), {
      ...weights,
      C,
      nH,
      nKV,
      hs,
      hidden,
      maxT,
      pos: cache.length,
      eps: plan.eps,
      scale: plan.scale,
      cos: plan.cos,
      sin: plan.sin,
    });
  });
  return out;
}
