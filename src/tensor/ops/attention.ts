/**
 * Scaled dot-product attention, softmax(Q K^T * scale + mask) V, through the backend's
 * fused kernel (flash-style: no (Tq, Tk) score matrix is stored; the forward saves the
 * per-row logsumexp and the backward recomputes probabilities from it).
 *
 * Supports grouped-query attention (nH a multiple of nKV), cross-attention (Tk != Tq),
 * a causal rule aligned to the END of the keys (query i sees keys j <= i + Tk - Tq, so
 * decoding with a KV cache needs no special case), an additive float mask and dropout on
 * the attention probabilities (a counter-based mask the backward regenerates:
 * attention-dropout.ts). attention-composed.ts computes the same from matmul and softmax
 * and can return the probabilities.
 *
 * Legend: B batch, nH query heads, nKV key/value heads, Tq/Tk query/key lengths, hs head size.
 */
import { Tensor } from '../tensor.js';
import { backend, type AttentionParams, type F } from '../backend.js';
import { record } from '../autograd/tape.js';
import { contiguous } from './layout.js';
import { attentionArgs, type AttentionOptions } from './attention-args.js';

export type { AttentionOptions } from './attention-args.js';

export interface AttentionSaved {
  readonly out: Tensor;
  /** logsumexp of each query row's scores, (B, nH, Tq); -Infinity for a fully masked row. */
  readonly lse: Tensor;
  readonly params: AttentionParams;
  /** Kept so that the mask buffer referenced by params outlives the forward. */
  readonly mask: Tensor | null;
}

const where = 'scaledDotProductAttention';

/**
 * softmax(q k^T * scale + mask) v per head.
 *
 * @example
 * const y = scaledDotProductAttention(q, k, v, { causal: true }); // (B, nH, T, hs)
 */
export function scaledDotProductAttention(
  qIn: Tensor,
  kIn: Tensor,
  vIn: Tensor,
  options: AttentionOptions = {},
): Tensor {
  const args = attentionArgs(where, qIn, kIn, vIn, options);
  const q = contiguous(qIn);
  const k = contiguous(kIn);
  const v = contiguous(vIn);
  const { mask: layout, ...shape } = args;
  const { B, nH, Tq, hs } = shape;
  const params: AttentionParams = {
    ...shape,
    // The whole buffer: the kernel indexes it through maskOffset and the strides.
    mask: layout === null ? null : (layout.mask.data as F),
    maskStrideB: layout?.strides[0] ?? 0,
    maskStrideH: layout?.strides[1] ?? 0,
    maskStrideQ: layout?.strides[2] ?? 0,
    maskOffset: layout?.offset ?? 0,
  };
  const out = Tensor.empty([B, nH, Tq, hs], q.dtype, false); // (B, nH, Tq, hs)
  const lse = Tensor.empty([B, nH, Tq], q.dtype, false); // (B, nH, Tq)
  backend().attentionForward(q.floats(), k.floats(), v.floats(), out.floats(), lse.floats(), params);
  return record('attention', [q, k, v], out, { out, lse, params, mask: layout?.mask ?? null });
}

/** dq, dk, dv from the saved output and logsumexp (derivation in src/backend/js/attention.ts). */
export function attentionBackward(g: Tensor, q: Tensor, k: Tensor, v: Tensor, s: AttentionSaved): Tensor[] {
  const dout = contiguous(g);
  const dq = Tensor.empty(q.shape, q.dtype, false);
  const dk = Tensor.empty(k.shape, k.dtype, false);
  const dv = Tensor.empty(v.shape, v.dtype, false);
  backend().attentionBackward(
    q.floats(),
    k.floats(),
    v.floats(),
    s.out.floats(),
    s.lse.floats(),
    dout.floats(),
    dq.floats(),
    dk.floats(),
    dv.floats(),
    s.params,
  );
  return [dq, dk, dv];
}
